//! `albedo-replay`: the auditor's command line. Nobody has to trust the validator: anyone
//! holding the ledger (the validator's store, or the public mirror) can verify it and re-derive
//! every verdict, crown and weight.
//!
//! Architecture invariant: this binary never depends on `albedo` (commands).

use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;

use albedo_projections::views::{Until, Views};
use albedo_replay::audit::Auditor;
use albedo_replay::source::Source;
use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "albedo-replay", version, about = "Verify an Albedo ledger and re-derive what it claims")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct From {
    /// The ledger: a sled directory, a mirror directory, or an http(s):// base URL of a public mirror.
    #[arg(long = "ledger", alias = "source", value_name = "SOURCE", value_parser = Source::parse)]
    from: Source,
    /// For a mirror: the SS58 address the checkpoint must be signed by (the validator's hotkey).
    #[arg(long)]
    signer: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Verify every entry: decoding, seq, hash links (and for a sled store the idempotency
    /// index; for a mirror every tile and the signed checkpoint).
    Verify {
        #[command(flatten)]
        from: From,
        /// A checkpoint (JSON) you verified before: the mirror must extend it, not rewrite it.
        #[arg(long)]
        previous: Option<PathBuf>,
    },
    /// Print entries as JSON lines (hashes as hex), verified as they stream.
    Events {
        #[command(flatten)]
        from: From,
        /// First seq to print.
        #[arg(long = "from", default_value_t = 0)]
        from_seq: u64,
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
    /// Rebuild dashboard.json and the site from the ledger (byte-identical to `albedo site build`),
    /// and check every `published` dashboard against the rebuild at its point in the ledger.
    Rebuild {
        #[command(flatten)]
        from: From,
        #[arg(long)]
        out: PathBuf,
        /// As things stood after this seq, or at this RFC 3339 UTC time.
        #[arg(long, value_parser = Until::parse)]
        until: Option<Until>,
    },
    /// Re-derive one eval's seed and verdict from its recorded turns and the pinned config; print
    /// both next to each other; fail on any difference.
    Verdict {
        #[command(flatten)]
        from: From,
        eval_id: String,
        /// The dataset root (manifest.json and its Parquet shards): also re-draw the eval's
        /// samples from it and compare them with the recorded `samples_drawn`.
        #[arg(long, value_name = "DIR")]
        dataset: Option<PathBuf>,
        /// The eval's published trace directory (a directory or an http(s):// URL): also check
        /// every reply the ledger records by hash against the trace, byte for byte.
        #[arg(long, value_name = "DIR|URL")]
        traces: Option<String>,
    },
    /// Re-derive every seed, judged turn, verdict, crown, weight submission and miner charge.
    Audit {
        #[command(flatten)]
        from: From,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("albedo-replay: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<bool> {
    match cli.command {
        Command::Verify { from, previous } => {
            let previous = match &previous {
                None => None,
                Some(p) => {
                    let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
                    Some(
                        albedo_ledger::mirror::Checkpoint::from_json(&bytes)
                            .with_context(|| format!("in {}", p.display()))?,
                    )
                }
            };
            let mut hashes_at_previous_head = None;
            let mut n = 0u64;
            let mut head = None;
            let checkpoint = from.from.visit(from.signer.as_deref(), |env, hash| {
                n += 1;
                head = Some((env.seq, hash));
                if previous.as_ref().is_some_and(|p| p.size == env.seq + 1) {
                    hashes_at_previous_head = Some(hash);
                }
                ControlFlow::Continue(())
            })?;
            if let Some(p) = &previous {
                // The log just verified must contain the trusted checkpoint's head: same size
                // prefix, same hash. Anything else means history was rewritten.
                let newer_size = n;
                if p.size > newer_size {
                    anyhow::bail!(
                        "the ledger holds {newer_size} entries, fewer than the previous checkpoint's {}: it went back",
                        p.size
                    );
                }
                if p.size > 0 && hashes_at_previous_head != Some(p.head_hash) {
                    anyhow::bail!(
                        "seq {}: the previous checkpoint's head is {}, but this ledger's entry hashes to {} (history was rewritten)",
                        p.size - 1,
                        p.head_hash,
                        hashes_at_previous_head.map(|h| h.to_hex()).unwrap_or_default()
                    );
                }
                println!("consistent: extends the previous checkpoint of size {}", p.size);
            }
            if let Source::Sled(path) = &from.from {
                // The store's own full audit adds the idempotency index and the recorded head.
                albedo_ledger::Store::open(path)?.verify_all()?;
            }
            match head {
                None => println!("ok: empty ledger"),
                Some((seq, hash)) => println!("ok: {n} entries, head seq {seq} hash {hash}"),
            }
            if let Some(c) = checkpoint {
                println!("checkpoint: size {} signed by {} at {} ms", c.size, c.signer, c.time_ms);
            }
            Ok(true)
        }
        Command::Events { from, from_seq, to, kind, eval } => {
            if let Some(k) = &kind
                && !albedo_ledger::event::KINDS.contains(&k.as_str())
            {
                anyhow::bail!("unknown kind {k:?}; kinds are: {}", albedo_ledger::event::KINDS.join(", "));
            }
            let out = std::io::stdout();
            let mut out = std::io::BufWriter::new(out.lock());
            let mut failed: Option<anyhow::Error> = None;
            from.from.visit(from.signer.as_deref(), |env, hash| {
                if to.is_some_and(|t| env.seq > t) {
                    return ControlFlow::Break(());
                }
                if env.seq < from_seq
                    || kind.as_deref().is_some_and(|k| env.event.kind() != k)
                    || eval.as_deref().is_some_and(|e| env.event.eval_id() != Some(e))
                {
                    return ControlFlow::Continue(());
                }
                let line = serde_json::to_value(env).map(|mut v| {
                    v["hash"] = serde_json::Value::String(hash.to_hex());
                    v
                });
                match line.map_err(anyhow::Error::from).and_then(|v| Ok(writeln!(out, "{v}")?)) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(e) => {
                        failed = Some(e);
                        ControlFlow::Break(())
                    }
                }
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            out.flush()?;
            Ok(true)
        }
        Command::Rebuild { from, out, until } => {
            let mut views = Views::new();
            // A dashboard published at seq N was built from entries 0..N-1: rebuild it at that
            // point and compare its SHA-256 with the one the `published` entry records.
            let (mut matched, mut differ) = (0u64, Vec::new());
            from.from.visit(from.signer.as_deref(), |env, hash| match until {
                Some(u) if !u.includes(env) => ControlFlow::Break(()),
                _ => {
                    if let albedo_ledger::Event::Published(p) = &env.event
                        && p.what == albedo_ledger::event::PublishedWhat::Dashboard
                    {
                        let ours = albedo_ledger::Hash32::of(
                            &albedo_projections::dashboard::Dashboard::build(&views).to_json_bytes(),
                        );
                        if ours == p.sha256 {
                            matched += 1;
                        } else {
                            differ.push(format!(
                                "seq {}: published dashboard {} has SHA-256 {}, the rebuild gives {ours}",
                                env.seq, p.key, p.sha256
                            ));
                        }
                    }
                    views.apply(env, hash);
                    ControlFlow::Continue(())
                }
            })?;
            let site = albedo_site::render(&views);
            let (files, bytes) = albedo_replay::write_site(&site, &out).context("writing the site")?;
            println!("wrote {files} files ({bytes} bytes) to {}", out.display());
            println!("published dashboards: {matched} match the rebuild, {} differ", differ.len());
            for d in &differ {
                println!("MISMATCH {d}");
            }
            Ok(differ.is_empty())
        }
        Command::Verdict { from, eval_id, dataset, traces } => {
            let mut auditor = Auditor::new(Some(eval_id.clone()));
            let mut draws = DrawWitness::default();
            let mut replies = albedo_replay::traces::ReplyHashes::default();
            from.from.visit(from.signer.as_deref(), |env, _| {
                draws.see(&eval_id, &env.event);
                replies.see(&eval_id, &env.event);
                auditor.apply(env);
                ControlFlow::Continue(())
            })?;
            let report = auditor.finish();
            let mut extra_ok = match &dataset {
                Some(dir) => check_draw(&eval_id, dir, &draws)?,
                None => true,
            };
            if let Some(t) = &traces {
                let source: Box<dyn albedo_ledger::mirror::TileSource> =
                    if t.starts_with("http://") || t.starts_with("https://") {
                        Box::new(albedo_replay::source::HttpSource::new(t))
                    } else {
                        Box::new(albedo_ledger::mirror::DirSource::new(t))
                    };
                let r = albedo_replay::traces::check_traces(&eval_id, source.as_ref(), &replies)?;
                if r.problems.is_empty() {
                    println!(
                        "traces: {} king and {} challenger replies match the ledger's hashes",
                        r.king_matched, r.challenger_matched
                    );
                } else {
                    for p in &r.problems {
                        println!("traces: MISMATCH {p}");
                    }
                    extra_ok = false;
                }
            }
            if report.verdicts.is_empty() {
                if dataset.is_none() && traces.is_none() {
                    anyhow::bail!("{eval_id} has no verdict in this ledger");
                }
                println!("verdict: none recorded for {eval_id}");
                print_findings(&report);
                return Ok(extra_ok && report.ok());
            }
            for (recorded, derived) in &report.verdicts {
                println!("recorded: {}", serde_json::to_string(&recorded.figures)?);
                match derived {
                    Some(d) => println!("derived:  {}", serde_json::to_string(&d.figures)?),
                    None => println!("derived:  (could not be derived)"),
                }
                println!(
                    "accepted: recorded {} / derived {:?}",
                    recorded.accepted,
                    derived.as_ref().map(|d| d.accepted)
                );
            }
            print_findings(&report);
            Ok(extra_ok && report.ok())
        }
        Command::Audit { from } => {
            let mut auditor = Auditor::new(None);
            // Drawn on stderr only when it is a terminal; scripts see just the table.
            let progress = indicatif::ProgressBar::new_spinner();
            progress.set_style(
                indicatif::ProgressStyle::with_template("{spinner} audited {pos} entries ({per_sec}, {elapsed})")
                    .expect("a static template"),
            );
            from.from.visit(from.signer.as_deref(), |env, _| {
                auditor.apply(env);
                if env.seq.is_multiple_of(1024) {
                    progress.set_position(env.seq + 1);
                }
                ControlFlow::Continue(())
            })?;
            progress.finish_and_clear();
            let report = auditor.finish();
            println!("{:<14} {:>10} {:>8}", "check", "passed", "failed");
            for (check, (passed, failed)) in &report.checks {
                println!("{check:<14} {passed:>10} {failed:>8}");
            }
            println!("{} entries audited", report.entries);
            print_findings(&report);
            Ok(report.ok())
        }
    }
}

fn print_findings(report: &albedo_replay::audit::Report) {
    if report.ok() {
        println!("everything matched");
    }
    for f in &report.findings {
        println!("MISMATCH seq {} [{}]: {}", f.seq, f.check, f.detail);
    }
}

/// What `verdict --dataset` needs from the ledger: the eval's last `samples_drawn`, with the
/// competition in force and the seed of that attempt. The state keeps only the count.
#[derive(Default)]
struct DrawWitness {
    competition: Option<albedo_ledger::event::CompetitionStarted>,
    /// attempt → seed_hex, from the eval's `eval_started` entries.
    seeds: std::collections::BTreeMap<u32, String>,
    drawn:
        Option<(albedo_ledger::event::SamplesDrawn, Option<albedo_ledger::event::CompetitionStarted>, Option<String>)>,
}

impl DrawWitness {
    fn see(&mut self, eval_id: &str, event: &albedo_ledger::Event) {
        use albedo_ledger::Event;
        match event {
            Event::CompetitionStarted(c) => self.competition = Some(c.clone()),
            Event::EvalStarted(e) if e.eval_id == eval_id => {
                self.seeds.insert(e.attempt, e.seed_hex.clone());
            }
            Event::SamplesDrawn(s) if s.eval_id == eval_id => {
                self.drawn = Some((s.clone(), self.competition.clone(), self.seeds.get(&s.attempt).cloned()));
            }
            _ => {}
        }
    }
}

/// Re-draws the eval's samples from the dataset at `dir` (determinism.md §3) and compares them
/// with the recorded ones. Ok(false) on a different draw; Err when the draw cannot be checked
/// (another dataset, nothing recorded, an unreadable shard).
fn check_draw(eval_id: &str, dir: &std::path::Path, draws: &DrawWitness) -> anyhow::Result<bool> {
    use albedo_projections::scoring::sample::draw_duel_samples;
    use albedo_projections::scoring::seed::Seed;
    let Some((recorded, competition, seed_hex)) = &draws.drawn else {
        anyhow::bail!("{eval_id} has no samples_drawn in this ledger: there is no draw to check");
    };
    let competition = competition.as_ref().context("samples_drawn before any competition_started")?;
    let seed_hex = seed_hex
        .as_deref()
        .with_context(|| format!("{eval_id}: samples_drawn of attempt {} has no eval_started", recorded.attempt))?;
    let (manifest, sha) = albedo_dataset::Manifest::load(dir)?;
    if sha != competition.dataset_manifest_sha256 {
        anyhow::bail!(
            "{}: SHA-256 {sha}, but the competition pins dataset_manifest_sha256 {}: not this competition's dataset",
            dir.join(albedo_dataset::MANIFEST_FILE).display(),
            competition.dataset_manifest_sha256
        );
    }
    if sha != recorded.dataset_manifest_sha256 {
        anyhow::bail!(
            "{}: SHA-256 {sha}, but {eval_id}'s samples_drawn records {}: the samples were not drawn from this dataset",
            dir.join(albedo_dataset::MANIFEST_FILE).display(),
            recorded.dataset_manifest_sha256
        );
    }
    let config = albedo_projections::config::Config::parse(&competition.chain_toml)
        .context("the competition's chain.toml does not parse")?;
    let seed = Seed::from_hex(seed_hex).map_err(|e| anyhow::anyhow!("{eval_id}: seed_hex: {e}"))?;
    let mut reader = albedo_dataset::ParquetRows::open(dir, &manifest)?;
    let duel = config.duel();
    let derived = draw_duel_samples(
        &seed,
        &manifest.shard_rows(),
        duel.n_samples as usize,
        duel.max_turns_per_sample,
        &mut reader,
    )?;
    let show = |r: Option<&albedo_ledger::event::SampleRef>| match r {
        Some(r) => format!("(shard {}, row {}, turn {})", r.shard, r.row, r.turn),
        None => "nothing".to_owned(),
    };
    let samples = &recorded.samples;
    match (0..samples.len().max(derived.len())).find(|&i| samples.get(i) != derived.get(i)) {
        None => {
            println!("sample draw: matches ({} refs)", derived.len());
            Ok(true)
        }
        Some(i) => {
            println!(
                "sample draw: MISMATCH at index {i}: recorded {}, derived {} ({} recorded refs, {} derived)",
                show(samples.get(i)),
                show(derived.get(i)),
                samples.len(),
                derived.len()
            );
            Ok(false)
        }
    }
}
