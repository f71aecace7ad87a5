//! `albedo`: the command line of the write side (CLI and glue; the work lives in the crates).
//!
//! Built so far: `albedo config check|show`, `albedo site build`, `albedo mirror sync` and
//! `albedo model push|files|config|pull|verify|fingerprint|prune`. The
//! validator, eval server, miner and demo commands arrive with their issues; until then they are
//! absent rather than pretending.

use albedo_commands::{adapters::object_store::Target, config, mirror, model, site, wallet};

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
    /// The public mirror of the ledger: tiles and a signed checkpoint in a directory or bucket.
    Mirror {
        #[command(subcommand)]
        action: MirrorAction,
    },
    /// The public site: dashboard.json and the static HTML pages, rebuilt from the ledger.
    Site {
        #[command(subcommand)]
        action: SiteAction,
    },
    /// Models in the OCI registry (ALBEDO_MODEL_REGISTRY; credentials HIPPIUS_HUB_TOKEN or
    /// HIPPIUS_HUB_USERNAME/PASSWORD) and the local cache (ALBEDO_MODEL_CACHE_DIR).
    Model {
        #[command(subcommand)]
        action: ModelAction,
    },
}

#[derive(Subcommand)]
enum ModelAction {
    /// Push a model folder, one layer per file; prints the REPO@DIGEST to commit.
    Push {
        dir: std::path::PathBuf,
        #[arg(long)]
        repo: String,
        #[arg(long, default_value = "main")]
        tag: String,
    },
    /// List a model's files (layer titles, digests, sizes) without downloading them.
    Files {
        #[arg(value_parser = model::parse_model_ref)]
        model: albedo_ledger::event::ModelRef,
    },
    /// Print a model's config.json, fetched alone and verified.
    Config {
        #[arg(value_parser = model::parse_model_ref)]
        model: albedo_ledger::event::ModelRef,
    },
    /// Download a model into the cache (verified, tokenizer hygiene applied); prints its directory.
    Pull {
        #[arg(value_parser = model::parse_model_ref)]
        model: albedo_ledger::event::ModelRef,
    },
    /// Re-hash a cached model's files against its record.
    Verify {
        #[arg(value_parser = model::parse_model_ref)]
        model: albedo_ledger::event::ModelRef,
    },
    /// Print the fingerprint (layer_norms_v2_with_samples) of a model folder as JSON.
    Fingerprint { dir: std::path::PathBuf },
    /// Delete every cached model except these, and staging left by dead processes.
    Prune {
        #[arg(long = "keep", value_parser = model::parse_model_ref)]
        keep: Vec<albedo_ledger::event::ModelRef>,
        /// Needed to prune with no --keep: that empties the cache (eval.md §16.3 item 24).
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
enum MirrorAction {
    /// One catch-up pass (design.md §3.4): upload the tiles the mirror lacks, then the checkpoint
    /// signed with the validator's hotkey (BT_WALLET_PATH, BT_WALLET_NAME, BT_WALLET_HOTKEY), then
    /// move the store's mirror cursor. Safe to re-run after any failure.
    Sync {
        /// The ledger's sled directory.
        #[arg(long)]
        ledger: std::path::PathBuf,
        /// A directory, or s3://BUCKET[/PREFIX] (endpoint and keys from ALBEDO_R2_*).
        #[arg(long)]
        to: String,
        /// Prefix of the layout inside the target (<prefix>/ledger/v1/...).
        #[arg(long, default_value = "")]
        prefix: String,
    },
}

#[derive(Subcommand)]
enum SiteAction {
    /// Stream the ledger once (verifying it) and write dashboard.json and the site to --out.
    Build {
        /// The ledger's sled directory.
        #[arg(long)]
        ledger: std::path::PathBuf,
        /// Where to write the site.
        #[arg(long)]
        out: std::path::PathBuf,
        /// Rebuild as things stood after this seq, or at this RFC 3339 UTC time (e.g. 2026-11-20T12:30:00Z).
        #[arg(long, value_parser = parse_until)]
        until: Option<albedo_projections::views::Until>,
    },
}

fn parse_until(text: &str) -> Result<albedo_projections::views::Until, String> {
    albedo_projections::views::Until::parse(text)
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
        Command::Mirror { action: MirrorAction::Sync { ledger, to, prefix } } => {
            let vars: Vec<(String, String)> = std::env::vars().collect();
            let var = |name: &str| vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            let wallet_path = wallet::wallet_path_from_env(&vars);
            let name = var("BT_WALLET_NAME").unwrap_or_else(|| "default".into());
            let hotkey_name = var("BT_WALLET_HOTKEY").unwrap_or_else(|| "default".into());
            let hotkey = wallet::load_hotkey(&wallet_path, &name, &hotkey_name)?;
            let store = albedo_ledger::Store::open(&ledger)?;
            let objects = Target::parse(&to)?.open(&|name: &str| var(name))?;
            let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as u64;
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let r = rt.block_on(mirror::catch_up(&store, &*objects, &prefix, &hotkey, now_ms))?;
            println!(
                "mirrored entries {}..{} to {} ({} tiles, {} bytes), checkpoint signed by {}",
                r.from,
                r.size,
                objects.describe(),
                r.tiles.len(),
                r.tile_bytes,
                albedo_ledger::mirror::CheckpointSigner::ss58(&hotkey)
            );
        }
        Command::Site { action: SiteAction::Build { ledger, out, until } } => {
            let built = site::build(&ledger, &out, until)?;
            println!(
                "wrote {} files ({} bytes) to {} from {} entries (head {})",
                built.files,
                built.bytes,
                out.display(),
                built.entries,
                built.head_hash.as_deref().unwrap_or("none: empty ledger")
            );
        }
        Command::Model { action } => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            match action {
                ModelAction::Push { dir, repo, tag } => rt.block_on(model::push(&dir, &repo, &tag))?,
                ModelAction::Files { model: m } => rt.block_on(model::files(&m))?,
                ModelAction::Config { model: m } => rt.block_on(model::config(&m))?,
                ModelAction::Pull { model: m } => rt.block_on(model::pull(&m))?,
                ModelAction::Verify { model: m } => model::verify(&m)?,
                ModelAction::Fingerprint { dir } => model::fingerprint(&dir)?,
                ModelAction::Prune { keep, all } => {
                    anyhow::ensure!(!keep.is_empty() || all, "no --keep given: pass --all to empty the whole cache");
                    model::prune(&keep)?
                }
            }
        }
    }
    Ok(())
}
