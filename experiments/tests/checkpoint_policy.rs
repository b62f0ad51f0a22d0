//! `quill run` with a pretrained checkpoint as the policy (a tiny random Llama written by the
//! test, no download): the prompt-only rows, the supervised warm start in the checkpoint's
//! chat template, GRPO, LoRA adapters through both with an exact `--resume`, distillation into
//! a pruned copy of the checkpoint and into a preset on its tokenizer, and the config errors
//! around `[policy] checkpoint`.

use quill::policy::tiny_checkpoint::write_tiny_checkpoint;
use quill_experiments::{config, pipeline};
use std::path::{Path, PathBuf};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quill-ckpt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tiny_checkpoint(dir: &Path) -> PathBuf {
    let path = dir.join("tiny-llama");
    let texts = (0..50).map(|i| {
        format!("search: storm coast {i}\nnews click: Hawks win the playoff opener\n- hawks\n")
    });
    write_tiny_checkpoint(&path, texts, 600, 5).unwrap();
    path
}

fn run_config(dir: &Path, policy: &str, rest: &str) -> String {
    format!(
        "[experiment]\nname = \"c\"\nseed = 3\noutput_dir = {out:?}\n\
         [data]\nusers = 300\n[data.corpus]\narticles = 1500\n\
         [cleaner]\nepochs = 1\ntrain_users = 200\n\
         [policy]\n{policy}\nprompt_budget = 480\n\
         [sampling]\nmax_new_tokens = 24\n\
         [evaluation]\nsamples_per_user = 2\n{rest}",
        out = dir.join("out")
    )
}

fn write(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("exp.toml");
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn a_checkpoint_policy_runs_prompt_only_warm_start_and_grpo() {
    let dir = temp_dir("run");
    tiny_checkpoint(&dir);
    let body = run_config(
        &dir,
        "checkpoint = \"tiny-llama\"",
        "[warm_start]\nsft_steps = 3\nbatch_size = 4\neval_users = 4\n\
         [grpo]\nsteps = 2\nprompts_per_step = 2\ngroup_size = 2\neval_every = 1\neval_users = 3\n",
    );
    let exp = config::load(&write(&dir, &body)).unwrap();
    pipeline::run(&exp, Default::default()).unwrap();
    let out = dir.join("out/c");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["preset"], "tiny-llama");
    // No language modelling for a pretrained checkpoint; three supervised steps.
    assert!(
        metrics["warm_start"]["lm_loss"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        metrics["warm_start"]["sft_loss"].as_array().unwrap().len(),
        3
    );
    let params = metrics["policies"]["prompt_only"]["parameters"]
        .as_u64()
        .unwrap();
    assert!(params > 10_000, "{params}");
    for split in ["valid", "test"] {
        let section = metrics[split].as_object().unwrap();
        for row in [
            "prompt_only/greedy",
            "prompt_only/sampled",
            "warm_start/sampled",
            "grpo/sampled",
            "bootstrap_lists",
        ] {
            assert!(section.contains_key(row), "{split}: no {row}");
        }
        let rate = section["prompt_only/sampled"]["valid_rate"]
            .as_f64()
            .unwrap();
        assert!((0.0..=1.0).contains(&rate));
    }
    // The fine-tuned policies are Quill checkpoints carrying the checkpoint's tokenizer, and
    // the resolved config parses again (no preset beside the checkpoint).
    let tokenizer = std::fs::read_to_string(out.join("policy/tokenizer.json")).unwrap();
    assert!(tokenizer.contains("<|im_end|>"));
    let resolved = std::fs::read_to_string(out.join("config.toml")).unwrap();
    let table: toml::Table = toml::from_str(&resolved).unwrap();
    assert!(table["policy"].get("preset").is_none(), "{resolved}");
    config::parse(&resolved, &out.join("config.toml")).unwrap();

    // Exported, the GRPO policy is a Hugging Face checkpoint with the chat template: loaded as
    // a pretrained checkpoint it writes the same tokens from the same prompt and seed.
    let policy = out.join("grpo/policy");
    let exported = dir.join("exported");
    quill_experiments::export_cmd::export(&policy, None, &exported).unwrap();
    let device = quill::device::Device::default();
    let (saved, _) = quill::policy::load_checkpoint(&policy, &device).unwrap();
    let reloaded = quill::policy::load_pretrained(&exported, &device).unwrap();
    let builder = quill_experiments::scoring::policy_prompt(&exp, &policy).unwrap();
    let user = quill::data::load_dataset(&exp.config.data, 3, &exp.base_dir)
        .unwrap()
        .iter()
        .next()
        .unwrap();
    let prompt = builder.prompt(&user);
    let end = [builder.tokenizer.end_id()];
    let how = quill::policy::Generation {
        sampler: &exp.config.sampling,
        max_new_tokens: 16,
        stop_tokens: &end,
        pad_id: builder.tokenizer.pad_id(),
    };
    let write = |d: &quill::policy::Decoder| {
        quill::policy::generate(d, std::slice::from_ref(&prompt), &[11], &how).unwrap()[0]
            .tokens
            .clone()
    };
    assert_eq!(write(&saved), write(&reloaded.decoder));
    assert_eq!(reloaded.text.tokenizer.end_id(), builder.tokenizer.end_id());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_prompt_only_run_needs_no_warm_start() {
    let dir = temp_dir("prompt-only");
    tiny_checkpoint(&dir);
    let body = run_config(
        &dir,
        "checkpoint = \"tiny-llama\"\ninstruction = \"List {min_queries}-{max_queries} queries.\"",
        "[warm_start]\nenabled = false\n[grpo]\nenabled = false\n",
    );
    let exp = config::load(&write(&dir, &body)).unwrap();
    pipeline::run(&exp, Default::default()).unwrap();
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/c/metrics.json")).unwrap())
            .unwrap();
    let test = metrics["test"].as_object().unwrap();
    assert!(test.contains_key("prompt_only/sampled") && !test.contains_key("warm_start/sampled"));

    // The checkpoint as it is serves, given the experiment that names it (whose run saved the
    // cleaner); an experiment that names another checkpoint is refused.
    use quill_experiments::serve::{ServerArgs, engine};
    let mut args = ServerArgs::new(dir.join("tiny-llama"));
    args.config = Some(dir.join("exp.toml"));
    let (engine, data) = engine::Engine::load(&args).unwrap();
    assert_eq!(engine.info["cleaner"]["enabled"], true, "{}", engine.info);
    let user = data.iter().next().unwrap();
    let input = engine::Input {
        user: user.id.clone(),
        signals: user.history.clone(),
        top_k: 3,
    };
    let answers = engine.answer(&[input]).unwrap();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].valid, answers[0].problems.is_empty());
    std::fs::create_dir_all(dir.join("other")).unwrap();
    let mut other = ServerArgs::new(dir.join("other"));
    other.config = Some(dir.join("exp.toml"));
    let err = format!("{:#}", engine::Engine::load(&other).err().unwrap());
    assert!(err.contains("does not name it"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The logits of `decoder` for one short sequence.
fn logits(decoder: &quill::policy::Decoder) -> Vec<f32> {
    use burn::tensor::{Int, Tensor, TensorData};
    let device = decoder.embed_tokens.weight.device();
    let tokens: Tensor<2, Int> =
        Tensor::from_data(TensorData::new(vec![3i64, 9, 27, 4], [1, 4]), &device);
    let mask = quill::policy::AttentionMask::causal(1, 4, &device);
    let out = decoder.forward(tokens, &mask, None);
    out.into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn lora_adapters_train_the_warm_start_and_grpo_and_resume_exactly() {
    use quill::policy::peft::{load_peft_adapter, read_adapter_config};
    use quill_experiments::stages::finished::RunOptions;
    let dir = temp_dir("lora");
    tiny_checkpoint(&dir);
    let body = run_config(
        &dir,
        "checkpoint = \"tiny-llama\"\nlora = { rank = 4, alpha = 8, \
         targets = [\"q_proj\", \"v_proj\", \"down_proj\"], blocks = [1] }",
        "[warm_start]\nsft_steps = 3\nbatch_size = 4\neval_users = 4\n\
         [grpo]\nsteps = 3\nprompts_per_step = 2\ngroup_size = 2\neval_every = 0\n\
         save_every = 1\nlearning_rate = 1e-2\n",
    );
    let exp = config::load(&write(&dir, &body)).unwrap();
    pipeline::run(&exp, RunOptions::default()).unwrap();
    let out = dir.join("out/c");
    let whole = read_json(&out.join("metrics.json"));
    std::fs::rename(&out, dir.join("whole")).unwrap();

    // Each stage's adapter is PEFT's files; on the stage's base it computes what the saved,
    // merged policy computes, and it moved the policy away from that base.
    let device = quill::device::Device::default();
    let (base, cfg) = quill::policy::hf::load_hf_decoder(&dir.join("tiny-llama"), &device).unwrap();
    let warm = dir.join("whole/policy");
    let spec = read_adapter_config(&warm.join("adapter")).unwrap();
    assert_eq!((spec.rank, spec.blocks.clone()), (4, vec![1]));
    let adapted = load_peft_adapter(&warm.join("adapter"), base.clone(), &cfg).unwrap();
    let (merged, _) = quill::policy::load_checkpoint(&warm, &device).unwrap();
    let diff = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max)
    };
    assert!(diff(&logits(&adapted), &logits(&merged)) < 1e-5);
    assert!(
        diff(&logits(&base), &logits(&merged)) > 1e-6,
        "the warm start learned nothing"
    );
    // Only the adapted projections of block 1 moved.
    let values = |t: burn::tensor::Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(
        values(base.blocks[0].attention.q_proj.weight.val()),
        values(merged.blocks[0].attention.q_proj.weight.val())
    );
    assert_eq!(
        values(base.blocks[1].attention.k_proj.weight.val()),
        values(merged.blocks[1].attention.k_proj.weight.val())
    );
    assert_eq!(
        values(base.embed_tokens.weight.val()),
        values(merged.embed_tokens.weight.val())
    );
    let grpo_adapter =
        load_peft_adapter(&dir.join("whole/grpo/adapter"), merged.clone(), &cfg).unwrap();
    let (tuned, _) =
        quill::policy::load_checkpoint(&dir.join("whole/grpo/policy"), &device).unwrap();
    assert!(diff(&logits(&grpo_adapter), &logits(&tuned)) < 1e-5);

    // Killed after GRPO step 1 and resumed: the same figures as the uninterrupted run.
    let killed = RunOptions {
        resume: false,
        stop_after: Some(1),
    };
    pipeline::run(&exp, killed).unwrap();
    let resume = RunOptions {
        resume: true,
        stop_after: None,
    };
    pipeline::run(&exp, resume).unwrap();
    let resumed = read_json(&out.join("metrics.json"));
    assert_eq!(resumed["grpo"]["resumed_from"], 1);
    assert_eq!(resumed["test"], whole["test"]);
    let (again, _) = quill::policy::load_checkpoint(&out.join("grpo/policy"), &device).unwrap();
    assert_eq!(logits(&again), logits(&tuned));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_checkpoint_teacher_distils_into_a_pruned_copy_and_into_a_preset_on_its_tokenizer() {
    let dir = temp_dir("distill");
    tiny_checkpoint(&dir);
    let config = |student: &str| {
        let body = run_config(
            &dir,
            "checkpoint = \"tiny-llama\"",
            &format!(
                "[warm_start]\nsft_steps = 2\nlm_steps = 4\nbatch_size = 4\neval_users = 4\n\
                 [grpo]\nsteps = 2\nprompts_per_step = 2\ngroup_size = 2\neval_every = 0\n\
                 [distill]\nenabled = true\nsteps = 2\nprompts_per_step = 2\n\
                 samples_per_prompt = 2\neval_every = 0\nstudent_sft_steps = 2\n{student}\n"
            ),
        );
        config::load(&write(&dir, &body)).unwrap()
    };
    let out = dir.join("out/c");
    let device = quill::device::Device::default();

    // A copy of the teacher with one of its two blocks, distilled on-policy.
    pipeline::run(&config("student_blocks = 1"), Default::default()).unwrap();
    let metrics = read_json(&out.join("metrics.json"));
    let (student, student_cfg) =
        quill::policy::load_checkpoint(&out.join("distill/policy"), &device).unwrap();
    assert_eq!((student.blocks.len(), student_cfg.layers), (1, 1));
    let teacher = &metrics["policies"]["grpo"]["parameters"];
    let pruned = &metrics["policies"]["student"]["parameters"];
    assert!(pruned.as_u64() < teacher.as_u64(), "{pruned} vs {teacher}");
    assert_eq!(
        metrics["distill"]["student_preset"],
        "tiny-llama, blocks [0] of 2"
    );
    assert!(metrics["policies"]["prompt_only"].is_object(), "{metrics}");
    for row in [
        "student/sampled",
        "student_warm_start/sampled",
        "grpo/sampled",
    ] {
        assert!(metrics["test"].get(row).is_some(), "no {row}");
    }
    // The student writes the teacher's chat prompts in its tokenizer.
    let tokenizer = |d: &str| std::fs::read_to_string(out.join(d).join("tokenizer.json")).unwrap();
    assert_eq!(tokenizer("distill/policy"), tokenizer("grpo/policy"));

    // More blocks than the teacher has: an error naming the field and the valid range.
    let err = format!(
        "{:#}",
        pipeline::run(&config("student_blocks = 3"), Default::default()).unwrap_err()
    );
    assert!(
        err.contains("distill.student_blocks") && err.contains("1 ..= 2"),
        "{err}"
    );

    // A from-scratch preset on the checkpoint's tokenizer, from the teacher's own lists; the
    // teacher's stages are reused.
    pipeline::run(
        &config("method = \"supervised\"\nstudent_preset = \"pico\""),
        Default::default(),
    )
    .unwrap();
    let again = read_json(&out.join("metrics.json"));
    assert_eq!(again["grpo"], metrics["grpo"]);
    assert_eq!(again["distill"]["student_preset"], "pico");
    assert!(again["test"].get("student/sampled").is_some());
    let (preset, _) = quill::policy::load_checkpoint(&out.join("distill/policy"), &device).unwrap();
    assert_eq!(
        preset.embed_tokens.weight.dims()[0],
        student.embed_tokens.weight.dims()[0],
        "the preset's vocabulary is the checkpoint's"
    );
    assert_eq!(tokenizer("distill/policy"), tokenizer("grpo/policy"));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn load_error(dir: &Path, body: &str) -> String {
    match config::load(&write(dir, body)) {
        Ok(_) => panic!("loaded: {body}"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn checkpoint_settings_that_cannot_work_are_errors_naming_the_field() {
    let dir = temp_dir("errors");
    let both = run_config(&dir, "preset = \"nano\"\ncheckpoint = \"x.gguf\"", "");
    let err = load_error(&dir, &both);
    assert!(
        err.contains("policy.preset and policy.checkpoint are both set") && err.contains(":13:"),
        "{err}"
    );
    let vocab = run_config(&dir, "checkpoint = \"x.gguf\"\nvocab_size = 500", "");
    let err = load_error(&dir, &vocab);
    assert!(err.contains("policy.vocab_size"), "{err}");
    let pruned_preset = run_config(
        &dir,
        "preset = \"nano\"",
        "[distill]\nenabled = true\nstudent_blocks = 2\n",
    );
    let err = load_error(&dir, &pruned_preset);
    assert!(
        err.contains("distill.student_blocks") && err.contains("preset teacher"),
        "{err}"
    );
    let preset_lora = run_config(&dir, "preset = \"nano\"\nlora = { rank = 4 }", "");
    let err = load_error(&dir, &preset_lora);
    assert!(
        err.contains("policy.lora.rank") && err.contains("preset"),
        "{err}"
    );
    let both = run_config(
        &dir,
        "checkpoint = \"x.gguf\"\nlora = { rank = 4 }",
        "[grpo]\ntrainable_blocks = 1\n",
    );
    let err = load_error(&dir, &both);
    assert!(err.contains("grpo.trainable_blocks"), "{err}");
    let dropout = run_config(
        &dir,
        "checkpoint = \"x.gguf\"\nlora = { rank = 4, dropout = 0.1 }",
        "",
    );
    let err = load_error(&dir, &dropout);
    assert!(err.contains("policy.lora.dropout"), "{err}");
    let target = run_config(
        &dir,
        "checkpoint = \"x.gguf\"\nlora = { rank = 4, targets = [\"qkv\"] }",
        "",
    );
    let err = load_error(&dir, &target);
    assert!(err.contains("qkv") && err.contains("q_proj"), "{err}");
    // A path that is not a checkpoint is caught before anything runs.
    let absent = run_config(&dir, "checkpoint = \"x.gguf\"", "");
    let exp = config::load(&write(&dir, &absent)).unwrap();
    let err = format!("{:#}", config::check_inputs(&exp).unwrap_err());
    assert!(
        err.contains("policy.checkpoint") && err.contains("x.gguf"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
