//! Reports: `results.csv`, charts (SVG and PNG), `index.html` and `README.md` of an experiment,
//! written by `quill run` at the end and by `quill report DIR` from what is on disk.
//!
//! The tables follow docs/paper.md (offline retrieval, reward ablation,
//! distillation, scaling), all of them on the test split (settings are chosen on the
//! validation split, whose rows `results.csv` holds too). Each of the paper's shapes is stated
//! beside Quill's numbers and judged by paired intervals, and the report states how large its
//! noise is.

pub mod analysis;
pub mod compare;
pub mod curves;
pub mod distill;
pub mod noise;
mod open;
pub mod page;
pub mod paired;
pub mod plots;
pub mod results;
pub mod shapes;
pub mod stats;
pub use open::open_page;

use analysis::{Analysis, label};
use anyhow::{Context, Result, bail};
use page::Block;
use plots::{Chart, Labels, XAxis};
use results::{RANKING, Results};
use serde_json::Value;
use stats::Estimate;
use std::path::{Path, PathBuf};

/// Where a report goes unless told otherwise: `report/` inside the run directory, so that
/// running an experiment never rewrites a tracked file.
pub fn default_report_dir(dir: &Path) -> PathBuf {
    dir.join("report")
}

/// Where `quill report --publish` writes: `reports/<dir's name>`, the committed reports.
pub fn published_report_dir(dir: &Path) -> PathBuf {
    Path::new("reports").join(experiment_name(dir))
}

fn experiment_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "experiment".into())
}

/// Collects the finished runs under `dir` into `dir/results.csv` and renders the report into
/// `out` (default [`default_report_dir`]); returns the report's directory.
pub fn write_report(dir: &Path, out: Option<&Path>) -> Result<PathBuf> {
    let runs = results::runs(dir)?;
    let table = if runs.is_empty() {
        let saved = dir.join("results.csv");
        if !saved.exists() {
            bail!(
                "{}: no finished run (a metrics.json with a test section, here or under cells/) \
                 and no results.csv",
                dir.display()
            );
        }
        Results::read(&saved)?
    } else {
        let table = results::collect(&runs);
        table.write(&dir.join("results.csv"))?;
        table
    };
    let name = experiment_name(dir);
    let out = out.map_or_else(|| default_report_dir(dir), Path::to_path_buf);
    render(&name, &table, &runs, &out)?;
    Ok(out)
}

/// Renders a report of `table` (and the training curves of `runs`, where given) into `out`.
pub fn render(name: &str, table: &Results, runs: &[(PathBuf, Value)], out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    table.write(&out.join("results.csv"))?;
    let a = Analysis::new(table);
    let mut blocks = vec![Block::Title(format!("Quill report: {name}"))];
    blocks.push(Block::Paragraph(summary(&a)));
    blocks.extend(noise::noise_blocks(&a));
    blocks.extend(shape_blocks(&a));
    blocks.extend(offline_blocks(&a));
    blocks.extend(time_scaling_blocks(&a, out)?);
    blocks.extend(space_scaling_blocks(&a, out)?);
    blocks.extend(ablation_blocks(&a, out)?);
    blocks.extend(distill_blocks(&a, out)?);
    blocks.extend(training_blocks(&a, runs, out)?);
    let title = format!("Quill report: {name}");
    quill::io::write_atomic(
        &out.join("index.html"),
        page::html(&title, &blocks).as_bytes(),
    )?;
    quill::io::write_atomic(&out.join("README.md"), page::markdown(&blocks).as_bytes())?;
    Ok(())
}

fn summary(a: &Analysis) -> String {
    let cells: std::collections::BTreeSet<&str> = a
        .results
        .rows
        .iter()
        .filter_map(|r| a.results.get(r, "cell"))
        .collect();
    let seeds: std::collections::BTreeSet<&str> = a
        .results
        .rows
        .iter()
        .filter_map(|r| a.results.get(r, "seed"))
        .collect();
    let held: Vec<String> = a
        .reference
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect();
    let splits = if a.splits.iter().any(|s| s != results::REPORTED_SPLIT) {
        "Settings are chosen on the validation split; results.csv holds its rows too (column \
         split), and every figure here is the test split's."
    } else {
        "results.csv holds the test split only."
    };
    format!(
        "{}, {}. Figures are means over seeds with 95% intervals (Student's t) where \
         there are two seeds or more; metrics are on the test split's held-out future clicks. \
         Views not about an axis hold it at: {} (an axis whose value follows from the view's \
         own, as a zipped one does, varies with it). Sampled rows average every sampled list per \
         user; best-of-N keeps each user's list of highest composite reward among N draws (no \
         future clicks involved). Full table: results.csv. {splits}",
        count(cells.len(), "run"),
        count(seeds.len(), "seed"),
        if held.is_empty() {
            "-".into()
        } else {
            held.join(", ")
        }
    )
}

/// `1 seed`, `3 seeds`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn shape_blocks(a: &Analysis) -> Vec<Block> {
    let rows = shapes::judge(a)
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            vec![
                format!("{}. {}", i + 1, s.claim),
                s.paper.to_string(),
                s.verdict.word().to_string(),
                s.evidence,
            ]
        })
        .collect();
    vec![
        Block::Heading("The paper's shapes: do they hold here?".into()),
        Block::Table {
            header: vec![
                "shape".into(),
                "paper".into(),
                "holds here".into(),
                "Quill".into(),
            ],
            rows,
        },
    ]
}

fn offline_blocks(a: &Analysis) -> Vec<Block> {
    let mut rows = Vec::new();
    for (method, filter) in a.offline_methods() {
        let f: Vec<(&str, &str)> = filter.iter().map(|(c, v)| (*c, v.as_str())).collect();
        let found = a.rows(&[], &f);
        if found.is_empty() {
            continue;
        }
        let mut row = vec![method];
        for metric in RANKING {
            row.push(
                a.estimate(&found, metric)
                    .map(|e| e.show(4))
                    .unwrap_or_default(),
            );
        }
        row.push(
            a.estimate(&found, "reward")
                .map(|e| e.show(3))
                .unwrap_or_default(),
        );
        rows.push(row);
    }
    let mut header: Vec<String> = vec!["method".into(), "R@5".into(), "R@10".into()];
    header.extend(["N@5", "N@10", "MRR", "composite reward"].map(String::from));
    vec![
        Block::Heading("Offline retrieval (test split)".into()),
        Block::Paragraph(format!(
            "The paper's layout. Paper: prompt-only Qwen2.5-32B R@10 0.194, RL teacher 0.271. \
             {} History as queries and the bootstrap lists are model-free references.",
            if a.policies().iter().any(|p| p == "prompt_only") {
                "Prompt only is the pretrained checkpoint prompted as it is, before any \
                 fine-tuning; the warm start is its supervised fine-tuning on the bootstrap \
                 lists, GRPO's starting point."
            } else {
                "The warm start is Quill's prompt-only stand-in (a from-scratch preset has no \
                 prompt-only form)."
            }
        )),
        Block::Table { header, rows },
    ]
}

fn time_scaling_blocks(a: &Analysis, out: &Path) -> Result<Vec<Block>> {
    let series = a.time_scaling("recall@10");
    if series.is_empty() {
        return Ok(Vec::new());
    }
    let mut blocks = vec![Block::Heading("Inference-time sampling: best-of-N".into())];
    for (metric, file) in [
        ("recall@10", "best_of_n_recall10"),
        ("ndcg@10", "best_of_n_ndcg10"),
    ] {
        let series = a.time_scaling(metric);
        let title = format!("Best-of-N by composite reward: {metric}");
        let labels = Labels {
            title: &title,
            x: "N (lists drawn per user, log2 scale)",
            y: metric,
        };
        plots::render(
            &out.join(file),
            &labels,
            &Chart::Lines(XAxis::Log2, &series),
        )?;
        blocks.push(Block::Figure {
            file: file.into(),
            caption: format!(
                "{metric} of the list kept from N sampled lists per test user (highest composite \
                 reward), mean and 95% interval over seeds. Paper (teacher): R@10 0.271 at N = 1 \
                 to 0.310 at N = 32, concave."
            ),
        });
    }
    blocks.push(series_table("N", &series, |x| format!("{x:.0}")));
    Ok(blocks)
}

fn space_scaling_blocks(a: &Analysis, out: &Path) -> Result<Vec<Block>> {
    let series = a.space_scaling("recall@10");
    if series.iter().all(|s| s.points.len() < 2) {
        return Ok(Vec::new());
    }
    let mut blocks = vec![Block::Heading("Model capacity: space scaling".into())];
    for (metric, file) in [
        ("recall@10", "params_recall10"),
        ("ndcg@10", "params_ndcg10"),
    ] {
        let series = a.space_scaling(metric);
        let title = format!("{metric} by model size");
        let labels = Labels {
            title: &title,
            x: "parameters (log scale)",
            y: metric,
        };
        plots::render(
            &out.join(file),
            &labels,
            &Chart::Lines(XAxis::LogParams, &series),
        )?;
        blocks.push(Block::Figure {
            file: file.into(),
            caption: format!(
                "{metric} of sampled lists by policy preset, mean and 95% interval over seeds. \
                 Paper: R@10 0.187 (0.5B) to 0.257 (32B), monotone."
            ),
        });
    }
    blocks.push(series_table("parameters", &series, plots::human));
    Ok(blocks)
}

/// `no_interest_coverage` → `no coverage`: the last word of the reward names it well enough
/// beside the table, which keeps the full names.
fn short_ablation(name: &str) -> String {
    match name.strip_prefix("no_") {
        Some(reward) => format!("no {}", reward.rsplit('_').next().unwrap_or(reward)),
        None => name.to_string(),
    }
}

fn ablation_blocks(a: &Analysis, out: &Path) -> Result<Vec<Block>> {
    let recall = a.ablation("recall@10");
    if recall.len() < 2 {
        return Ok(Vec::new());
    }
    let ndcg = a.ablation("ndcg@10");
    let policy = label(&a.final_policy().unwrap_or_default());
    let mut blocks = vec![Block::Heading("Reward ablation".into())];
    for (metric, bars, file) in [
        ("recall@10", &recall, "ablation_recall10"),
        ("ndcg@10", &ndcg, "ablation_ndcg10"),
    ] {
        let title = format!("Reward ablation ({policy}): {metric}");
        let labels = Labels {
            title: &title,
            x: "rewards used in training",
            y: metric,
        };
        // Full ablation names side by side overlap on the axis: "no coverage" fits, unless
        // two rewards end in the same word.
        let mut short: Vec<(String, Estimate)> = bars
            .iter()
            .map(|(name, e)| (short_ablation(name), *e))
            .collect();
        let mut names: Vec<&String> = short.iter().map(|(n, _)| n).collect();
        names.sort();
        names.dedup();
        if names.len() < short.len() {
            short = bars.to_vec();
        }
        plots::render(&out.join(file), &labels, &Chart::Bars(&short))?;
        blocks.push(Block::Figure {
            file: file.into(),
            caption: format!("{metric} of {policy}'s sampled lists when trained without one reward; whiskers: 95% interval over seeds."),
        });
    }
    let paper = |name: &str| match name {
        "full" => "0.271 / 0.241",
        "no_retrieval_alignment" => "0.162 / 0.141",
        "no_interest_coverage" => "0.115 / 0.093",
        "no_query_specificity" => "0.196 / 0.184",
        "no_intra_list_diversity" => "0.179 / 0.144",
        "no_structural_validity" => "0.193 / 0.184",
        _ => "-",
    };
    let rows = recall
        .iter()
        .map(|(name, e)| {
            let n = ndcg.iter().find(|(m, _)| m == name).map(|(_, e)| e.show(4));
            vec![
                name.clone(),
                e.show(4),
                n.unwrap_or_default(),
                paper(name).into(),
            ]
        })
        .collect();
    blocks.push(Block::Table {
        header: vec![
            "ablation".into(),
            "R@10".into(),
            "N@10".into(),
            "paper R@10 / N@10".into(),
        ],
        rows,
    });
    Ok(blocks)
}

fn distill_blocks(a: &Analysis, out: &Path) -> Result<Vec<Block>> {
    let Some(d) = distill::Distillation::of(a) else {
        return Ok(Vec::new());
    };
    let mut blocks = vec![
        Block::Heading("Distillation".into()),
        Block::Paragraph(
            "The paper's distillation table: the GRPO-trained teacher, the small student after \
             each method (on-policy: the student samples and minimises the reverse KL to the \
             teacher; supervised: fine-tuned on the teacher's sampled lists; none: trained with \
             GRPO alone), and the student before any of them. Sampled lists, each user's draws \
             averaged; mean ± 95% interval over seeds, each seed's teacher and student warm \
             start counted once though every method cell of the seed holds them. Share of the teacher: the \
             mean over seeds of the row's R@10 divided by the teacher's of the same seed. \
             users/s: sampled lists decoded per second. Paper (R@10 / N@10): teacher 0.271 / \
             0.241, on-policy 0.261 / 0.235, supervised 0.245 / 0.207, no distillation 0.187 / \
             0.179; teacher 2 users/s, student 67."
                .into(),
        ),
    ];
    let mut header: Vec<String> = vec!["policy".into(), "R@5".into(), "R@10".into()];
    header.extend(["N@5", "N@10", "MRR", "seeds", "parameters", "users/s"].map(String::from));
    header.push("share of teacher R@10".into());
    let mut rows = Vec::new();
    let mut points = Vec::new();
    for row in &d.rows {
        let mut cells = vec![row.role.label().to_string()];
        for metric in RANKING {
            cells.push(row.estimate(metric).map(|e| e.show(4)).unwrap_or_default());
        }
        cells.push(row.seeds.len().to_string());
        let params = row.params.map(plots::human).unwrap_or_default();
        cells.push(format!("{params} ({})", row.preset));
        let speed = row.estimate(distill::SPEED);
        cells.push(speed.map(|e| e.show(1)).unwrap_or_default());
        let share = d.share_of_teacher(row.role).map(|e| {
            let pct = |x: f64| format!("{:.1}%", 100.0 * x);
            if e.n < 2 {
                pct(e.mean)
            } else {
                format!("{} ± {}", pct(e.mean), pct(e.half_width))
            }
        });
        cells.push(share.unwrap_or_default());
        rows.push(cells);
        if let (Some(x), Some(y)) = (speed, row.estimate(distill::SHARE_METRIC)) {
            points.push(plots::Point {
                label: row.role.label().to_string(),
                x,
                y,
            });
        }
    }
    blocks.push(Block::Table { header, rows });
    if !points.is_empty() {
        let file = "distill_quality_speed";
        let labels = Labels {
            title: "Distillation: quality against serving speed",
            x: "users/s (sampled lists decoded per second, log scale)",
            y: "recall@10",
        };
        plots::render(
            &out.join(file),
            &labels,
            &Chart::Points(XAxis::LogRate, &points),
        )?;
        blocks.push(Block::Figure {
            file: file.into(),
            caption: "Recall@10 of sampled lists against users/s, one point per row of the \
                      table above: mean over seeds, bars the 95% interval of recall@10 (points \
                      at nearly one speed are spread sideways to keep their bars apart). Paper: \
                      teacher 0.271 at 2 users/s, on-policy student 0.261 at 67."
                .into(),
        });
    }
    Ok(blocks)
}

fn training_blocks(a: &Analysis, runs: &[(PathBuf, Value)], out: &Path) -> Result<Vec<Block>> {
    let (composite, per_reward) =
        curves::training_curves(runs, &a.reference, &a.tied_to(&["preset"]));
    if composite.is_empty() {
        return Ok(Vec::new());
    }
    let mut blocks = vec![Block::Heading("GRPO training curves".into())];
    let labels = Labels {
        title: "Composite reward during GRPO",
        x: "GRPO step",
        y: "mean composite reward of sampled lists",
    };
    plots::render(
        &out.join("training_composite"),
        &labels,
        &Chart::Lines(XAxis::Steps, &composite),
    )?;
    blocks.push(Block::Figure {
        file: "training_composite".into(),
        caption: "Mean composite reward of each step's sampled training lists, by preset, averaged over seeds (moving average over 5 steps).".into(),
    });
    if !per_reward.is_empty() {
        let labels = Labels {
            title: "Each reward during GRPO",
            x: "GRPO step",
            y: "mean reward in [0, 1]",
        };
        plots::render(
            &out.join("training_rewards"),
            &labels,
            &Chart::Lines(XAxis::Steps, &per_reward),
        )?;
        blocks.push(Block::Figure {
            file: "training_rewards".into(),
            caption: "Mean of each reward over each step's sampled training lists (reference preset), averaged over seeds (moving average over 5 steps).".into(),
        });
    }
    Ok(blocks)
}

/// A table of series values: one row per x, one column per series.
fn series_table(x_name: &str, series: &[plots::Series], show_x: impl Fn(f64) -> String) -> Block {
    let mut xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|(x, _)| *x))
        .collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let mut header = vec![x_name.to_string()];
    header.extend(series.iter().map(|s| format!("{} R@10", s.label)));
    let rows = xs
        .iter()
        .map(|x| {
            let mut row = vec![show_x(*x)];
            for s in series {
                let e = s
                    .points
                    .iter()
                    .find(|(px, _)| px == x)
                    .map(|(_, e)| e.show(4));
                row.push(e.unwrap_or_default());
            }
            row
        })
        .collect();
    Block::Table { header, rows }
}
