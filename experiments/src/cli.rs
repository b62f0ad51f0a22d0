//! The command line, declared once with clap's derive (help text comes from these docs).

use crate::sweep::runner::{Shard, SweepOptions};
use crate::{baselines_cmd, config, data_cmd, explain};
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Quill: learn a user's interests as news search queries, from cross-domain signals.
#[derive(Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an experiment: data, cleaner, statistics, the policy's warm start, GRPO, and the
    /// validation- and test-split evaluation; the report goes to runs/<name>/report/.
    Run {
        /// The experiment TOML file.
        file: PathBuf,
        /// Continue GRPO from its newest checkpoint (same config) instead of starting over.
        #[arg(long)]
        resume: bool,
        /// Stop after this GRPO step as if killed (for testing --resume).
        #[arg(long, hide = true)]
        stop_after: Option<u32>,
        /// Sweeps: cells run at once, each in its own process (output in its log.txt).
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Print the plan (what each cell trains, reuses or has finished, and a time estimate
        /// from the timings recorded under the output directory) and run nothing.
        #[arg(long)]
        dry_run: bool,
        /// Sweeps: run only the i-th of n disjoint parts (1-based, e.g. 2/4), so that several
        /// machines share one sweep; `quill report` merges their cells.
        #[arg(long)]
        shard: Option<Shard>,
        /// Sweeps: run only this cell (its directory name), in this process.
        #[arg(long, hide = true)]
        cell: Option<String>,
        #[command(flatten)]
        overrides: OverrideArgs,
    },
    /// Render an experiment's report (results.csv, plots, index.html, README.md) from the
    /// results under DIR, without running anything.
    Report {
        /// The experiment's output directory (e.g. runs/quickstart).
        dir: PathBuf,
        /// Where to write the report (default: DIR/report).
        #[arg(long, conflicts_with = "publish")]
        out: Option<PathBuf>,
        /// Write it to reports/<experiment name>, the committed reports reviewers read.
        #[arg(long)]
        publish: bool,
        /// Then open its index.html in the default browser.
        #[arg(long)]
        open: bool,
    },
    /// Compare each sweep's settings with its first setting, paired by seed, on the validation
    /// split: how a setting is chosen without reading the test split.
    Compare {
        /// The sweep's output directory (e.g. runs/defaults-check).
        dir: PathBuf,
        /// The split to read.
        #[arg(long, default_value = "valid", value_parser = ["valid", "test"])]
        split: String,
        /// The policies to compare (repeatable).
        #[arg(long = "policy", default_values_t = ["warm_start".to_string(), "grpo".to_string()])]
        policies: Vec<String>,
        /// The decoding: sampled or greedy.
        #[arg(long, default_value = "sampled")]
        decoding: String,
        /// N > 1: the list the composite reward picks among each user's first N samples.
        #[arg(long, default_value_t = 1)]
        best_of: u32,
        /// The metric column of results.csv.
        #[arg(long, default_value = "recall@10")]
        metric: String,
    },
    /// Check an experiment file without running it; --explain documents every field.
    Validate {
        /// The experiment TOML file (optional with --explain).
        file: Option<PathBuf>,
        #[command(flatten)]
        overrides: OverrideArgs,
        /// Print every field with its doc, default and valid values.
        #[arg(long)]
        explain: bool,
    },
    /// List registered reward plugins, ablations, judges and distillation methods.
    Rewards,
    /// Print a user's prompt, the bootstrap list the warm start imitated for it, and lists
    /// sampled from the experiment's policy checkpoint.
    Sample {
        /// The experiment TOML file.
        file: PathBuf,
        /// The user's id (see `quill data sample`).
        #[arg(long)]
        user: String,
        /// A checkpoint directory (default: the experiment's `policy/`).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// How many lists.
        #[arg(short, default_value_t = 3)]
        n: usize,
    },
    /// List the from-scratch policy presets with their shapes and parameter counts.
    Presets,
    /// Evaluate the model-free baselines (random, popularity, history-as-queries) on the test split.
    EvalBaselines {
        /// The experiment TOML file.
        file: PathBuf,
    },
    /// Inspect an experiment's dataset.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Write a policy (a directory `quill run` saved, or a pretrained checkpoint) as a Hugging
    /// Face checkpoint directory that `transformers` loads, with its tokenizer.
    Export {
        /// The policy: e.g. runs/quickstart/grpo/policy, or a .gguf file.
        #[arg(long)]
        checkpoint: PathBuf,
        /// The experiment that trained it (default: the config.toml of its run directory).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The directory to write (replaced atomically).
        #[arg(long)]
        out: PathBuf,
    },
    /// Serve a policy checkpoint over HTTP: POST /v1/interests turns a user's signals into a
    /// query list and retrieved news; GET /healthz.
    Serve(crate::serve::ServeArgs),
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

/// `--set` and `--name`, as `run` and `validate` take them.
#[derive(clap::Args)]
struct OverrideArgs {
    /// Change a field: a dotted path as in sweep axes, the value read as TOML (a string where
    /// it is not TOML), e.g. --set grpo.learning_rate=1e-4; repeatable.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    set: Vec<String>,
    /// The experiment's name (and so its output directory), instead of the file's.
    #[arg(long)]
    name: Option<String>,
}

impl OverrideArgs {
    fn overrides(self) -> config::Overrides {
        config::Overrides {
            set: self.set,
            name: self.name,
        }
    }
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Serve a checkpoint in this process and load it from loopback at several concurrency
    /// levels: users/s and p50/p95/p99 latency per level.
    Serve(crate::serve::bench::BenchArgs),
}

#[derive(Subcommand)]
enum DataCommand {
    /// Users, signals per kind, noise rate, history lengths, future clicks.
    Stats {
        file: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print users as JSON, one per line.
    Sample {
        file: PathBuf,
        /// How many users.
        #[arg(short, default_value_t = 3)]
        n: usize,
        /// Only users of this split (train, valid, test).
        #[arg(long)]
        split: Option<String>,
    },
}

impl Cli {
    /// Whether the command serves HTTP (`serve`, `bench serve`), and so must outlive clients
    /// that close their connections.
    pub fn serves(&self) -> bool {
        matches!(self.command, Command::Serve(_) | Command::Bench { .. })
    }
}

pub fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run {
            file,
            resume,
            stop_after,
            jobs,
            dry_run,
            shard,
            cell,
            overrides,
        } => {
            let exp = config::load_with(&file, &overrides.overrides())?;
            config::check_inputs(&exp)?;
            if dry_run {
                print!("{}", crate::sweep::plan::describe(&exp)?);
                return Ok(());
            }
            if exp.config.sweep.is_empty() {
                if shard.is_some() || cell.is_some() {
                    anyhow::bail!(
                        "{}: --shard and --cell need a [sweep.<name>] table",
                        file.display()
                    );
                }
                crate::pipeline::run(&exp, crate::pipeline::RunOptions { resume, stop_after })?;
                // A run stopped early, or without a policy, has no test results to report.
                if crate::report::results::runs(&exp.output_dir())?.is_empty() {
                    return Ok(());
                }
                crate::report::write_report(&exp.output_dir(), None).map(|dir| {
                    eprintln!("report: {}", dir.display());
                })
            } else {
                let opts = SweepOptions {
                    jobs,
                    shard,
                    resume,
                    cell,
                    ..SweepOptions::default()
                };
                crate::sweep::runner::run_sweep(&exp, &opts)
            }
        }
        Command::Report {
            dir,
            out,
            publish,
            open,
        } => {
            let out = match publish {
                true => Some(crate::report::published_report_dir(&dir)),
                false => out,
            };
            let written = crate::report::write_report(&dir, out.as_deref())?;
            println!("report: {}", written.display());
            if open {
                crate::report::open_page(&written.join("index.html"))?;
            }
            Ok(())
        }
        Command::Compare {
            dir,
            split,
            policies,
            decoding,
            best_of,
            metric,
        } => {
            let query = crate::report::compare::Query {
                split,
                policies,
                decoding,
                best_of,
                metric,
            };
            let found = crate::report::compare::compare_dir(&dir, &query)?;
            print!("{}", crate::report::compare::markdown(&found, &query));
            Ok(())
        }
        Command::Validate {
            file,
            explain: true,
            overrides,
        } => {
            if let Some(file) = file {
                let exp = config::load_with(&file, &overrides.overrides())?;
                config::check_inputs(&exp)?;
                crate::sweep::expand(&exp)?;
                println!("{}: valid", file.display());
            }
            print!("{}", explain::explain());
            Ok(())
        }
        Command::Validate {
            file: Some(file),
            explain: false,
            overrides,
        } => {
            let exp = config::load_with(&file, &overrides.overrides())?;
            config::check_inputs(&exp)?;
            // A sweep is valid only if every cell is: expanding parses each of them, before
            // anything says "valid".
            let cells = crate::sweep::expand(&exp)?;
            println!(
                "{}: valid (experiment {:?}, output {})",
                file.display(),
                exp.config.experiment.name,
                exp.output_dir().display()
            );
            let rewards: Vec<String> = config::reward_spec(&exp.config)?
                .iter()
                .map(|(name, weight)| format!("{name} {weight}"))
                .collect();
            println!(
                "  rewards (after ablation {:?}), weights: {}",
                exp.config.experiment.ablation,
                rewards.join(", ")
            );
            // A checkpoint policy's prompt: which model, and the instruction as sent.
            if let Some(path) = crate::scoring::checkpoint_path(&exp) {
                let instruction = crate::scoring::instruction(&exp.config);
                println!(
                    "  policy: checkpoint {}\n  instruction: {}",
                    path.display(),
                    quill::text::chat_prompt::filled_instruction(instruction, &exp.config.format)
                );
            }
            for cell in &cells {
                println!("  cell {} (sweeps: {})", cell.id, cell.sweeps.join(", "));
            }
            print!("plan:\n{}", crate::sweep::plan::describe(&exp)?);
            Ok(())
        }
        Command::Validate {
            file: None,
            explain: false,
            ..
        } => anyhow::bail!("give an experiment file, or --explain"),
        Command::EvalBaselines { file } => baselines_cmd::eval_baselines(&config::load(&file)?),
        Command::Rewards => {
            print!("{}", explain::rewards());
            Ok(())
        }
        Command::Sample {
            file,
            user,
            checkpoint,
            n,
        } => crate::sample_cmd::sample(&config::load(&file)?, &user, checkpoint.as_deref(), n),
        Command::Presets => {
            print!("{}", explain::presets());
            Ok(())
        }
        Command::Data {
            command: DataCommand::Stats { file, json },
        } => data_cmd::stats(&config::load(&file)?, json),
        Command::Data {
            command: DataCommand::Sample { file, n, split },
        } => data_cmd::sample(&config::load(&file)?, n, split.as_deref()),
        Command::Export {
            checkpoint,
            config,
            out,
        } => crate::export_cmd::export(&checkpoint, config.as_deref(), &out),
        Command::Serve(args) => crate::serve::serve(args),
        Command::Bench {
            command: BenchCommand::Serve(args),
        } => crate::serve::bench::bench_serve(args).map(drop),
    }
}
