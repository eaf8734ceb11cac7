use std::process::ExitCode;

fn main() -> ExitCode {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut io = keydoctor::cli::Io::real(stdin.lock(), stdout.lock(), stderr.lock());
    keydoctor::cli::run(std::env::args_os(), &mut io)
}
