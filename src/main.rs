//! `splatstitch`: command-line entry point. Wires the stage crates together; holds no
//! algorithms of its own.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // `splatstitch info big.ply | head` should end quietly when the reader goes away, as other
    // command-line tools do, not panic on the broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SPLATSTITCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(if args.quiet { "error" } else { "warn" })),
        )
        .init();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            // A bad job is a usage error, like a bad argument.
            let bad_job = e.downcast_ref::<splatstitch_stitch::JobError>().is_some()
                || matches!(
                    e.downcast_ref::<splatstitch_stitch::StitchError>(),
                    Some(splatstitch_stitch::StitchError::Job(_))
                );
            let no_display = matches!(
                e.downcast_ref::<splatstitch_editor::window::WindowError>(),
                Some(splatstitch_editor::window::WindowError::NoDisplay(_))
            );
            let usage = e.downcast_ref::<cli::UsageError>().is_some();
            if bad_job || no_display || usage { ExitCode::from(2) } else { ExitCode::FAILURE }
        }
    }
}
