//! `albedo-replay`: the auditor. Nobody has to trust the validator: anyone holding the ledger
//! can verify it and (as later issues add) re-derive every verdict, crown and weight.
//!
//! Architecture invariant: this binary never depends on `albedo` (commands), so it builds
//! without subxt or axum.
//!
//! Built so far, over a ledger in a sled directory: `verify` (every hash link from entry 0) and
//! `events` (entries as JSON lines). Mirror, S3 and HTTPS sources, `rebuild`, `verdict` and
//! `audit` arrive with issue 6.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use albedo_ledger::{Store, Verifier};
use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "albedo-replay", version, about = "Verify an Albedo ledger and print its entries")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify every entry from seq 0: decoding, seq, hash links, idempotency index, head.
    Verify {
        /// The ledger's sled directory.
        #[arg(long)]
        ledger: PathBuf,
    },
    /// Print entries as JSON lines (hashes as hex), verifying links as they stream.
    Events {
        #[arg(long)]
        ledger: PathBuf,
        /// First seq to print.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Last seq to print (inclusive).
        #[arg(long)]
        to: Option<u64>,
        /// Only entries of this kind (e.g. turn_judged).
        #[arg(long)]
        kind: Option<String>,
        /// Only entries of this eval.
        #[arg(long)]
        eval: Option<String>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("albedo-replay: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Verify { ledger } => {
            let store = Store::open(&ledger).with_context(|| format!("opening {}", ledger.display()))?;
            match store.verify_all()? {
                None => println!("ok: {} is an empty ledger", ledger.display()),
                Some(head) => println!("ok: {} entries, head seq {} hash {}", head.seq + 1, head.seq, head.hash),
            }
        }
        Command::Events { ledger, from, to, kind, eval } => {
            if let Some(k) = &kind
                && !albedo_ledger::event::KINDS.contains(&k.as_str())
            {
                anyhow::bail!("unknown kind {k:?}; kinds are: {}", albedo_ledger::event::KINDS.join(", "));
            }
            let store = Store::open(&ledger).with_context(|| format!("opening {}", ledger.display()))?;
            let snapshot = store.snapshot();
            let out = std::io::stdout();
            let mut out = std::io::BufWriter::new(out.lock());
            // Links are checked from entry 0 so every printed entry is verified, not just decoded.
            let mut verifier = Verifier::new();
            for entry in snapshot.entries(0) {
                let entry = entry?;
                if to.is_some_and(|t| entry.seq > t) {
                    break;
                }
                let (env, hash) = verifier.check(&entry.bytes)?;
                if entry.seq < from
                    || kind.as_deref().is_some_and(|k| env.event.kind() != k)
                    || eval.as_deref().is_some_and(|e| env.event.eval_id() != Some(e))
                {
                    continue;
                }
                let mut value = serde_json::to_value(&env)?;
                value["hash"] = serde_json::Value::String(hash.to_hex());
                serde_json::to_writer(&mut out, &value)?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
    }
    Ok(())
}
