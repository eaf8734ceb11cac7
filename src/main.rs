use std::process::ExitCode;

fn main() -> ExitCode {
    // Interrupted (Ctrl-C, SIGTERM): remove the folders archives were unpacked into (they hold
    // logs unredacted), then end as an interrupted process does.
    let _ = ctrlc::set_handler(|| {
        keydoctor::source::bundle::remove_unpacked();
        // The one exit outside error::exit_code: a signal handler has no result to return.
        #[allow(clippy::exit, clippy::disallowed_methods)]
        std::process::exit(130);
    });
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    // stderr is not locked for the run: a lock held here would block any other writer to it
    // (the cause of a scan that hung in every terminal). Only the main thread writes either.
    let mut io = keydoctor::cli::Io::real(stdin.lock(), stdout.lock(), std::io::stderr());
    keydoctor::cli::run(std::env::args_os(), &mut io)
}
