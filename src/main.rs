use std::process::ExitCode;

fn main() -> ExitCode {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    // stderr is not locked for the run: a lock held here would block any other writer to it
    // (the cause of a scan that hung in every terminal). Only the main thread writes either.
    let mut io = keydoctor::cli::Io::real(stdin.lock(), stdout.lock(), std::io::stderr());
    keydoctor::cli::run(std::env::args_os(), &mut io)
}
