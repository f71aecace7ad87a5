//! `albedo`: the command line of the write side (CLI and glue; the work lives in the crates).
//!
//! Built so far: `albedo config check` and `albedo config show`. The validator, eval server,
//! miner, site and demo commands arrive with their issues; until then they are absent rather
//! than pretending.

mod config;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "albedo", version, about = "Albedo: a king-of-the-hill subnet run from an event-sourced ledger")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The competition config: chain.toml (embedded, or ALBEDO_CHAIN_OVERRIDE) plus environment overrides.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Load and check the config; print its source, SHA-256 and the overrides applied.
    Check,
    /// Print the exact config text in force (the text whose SHA-256 the ledger records).
    Show,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Config { action } => {
            let loaded = config::load_from_env()?;
            match action {
                ConfigAction::Check => {
                    let c = &loaded.config;
                    println!("source:  {}", loaded.source);
                    println!("sha256:  {}", c.sha256_hex());
                    println!("judges:  {}", c.judge().models.join(", "));
                    println!("samples: {} per duel, win margin {}", c.duel().n_samples, c.duel().win_margin.text());
                    for o in c.overrides_applied() {
                        println!("override: {} = {} (from {}, file had {})", o.key, o.value, o.var, o.file_value);
                    }
                    println!("ok");
                }
                ConfigAction::Show => print!("{}", loaded.config.text()),
            }
        }
    }
    Ok(())
}
