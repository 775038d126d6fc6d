//! `kaifang`: parses the command line and hands over to the libraries.
mod admin;
mod batch;
mod cli;
mod client_config;
mod commands;
mod governance;
mod limits;
mod maintenance;
mod offline;
mod pay;
mod report;
mod tail;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        // A reader that went away (`kaifang … | head`) is not an error.
        Err(error)
            if error
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(error) => {
            // One line: the error and its causes (multi-line messages, such
            // as Cedar's, are folded). A cause that its parent's message
            // already ends with (errors that show their source) is not
            // repeated.
            let mut text = error.to_string();
            for cause in error.chain().skip(1) {
                let cause = cause.to_string();
                if !text.ends_with(&cause) {
                    text.push_str(": ");
                    text.push_str(&cause);
                }
            }
            let line: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!("kaifang: {}", line.join(" · "));
            ExitCode::FAILURE
        }
    }
}
