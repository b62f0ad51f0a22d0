//! What a run records of the code that made it: Quill's version, the git commit of the
//! working tree with whether it had uncommitted changes, and whether the build's CPU matrix
//! kernels were the AVX-512 ones (feature `avx512`, which changes float rounding), so a figure
//! can be traced to its code.
//!
//! Git is asked through its command line: a git library would add a large dependency tree for
//! two read-only queries, and a run outside a repository (an installed binary, a tarball) just
//! records that there is none.

use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

/// `{"quill_version", "git_commit", "git_dirty", "avx512_kernels"}`; the git fields are null
/// outside a repository or without git.
pub fn provenance(dir: &Path) -> Value {
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "HEAD"]);
    // Untracked files (runs/, reports under runs/) are ignored; a modified tracked file is not.
    let dirty = commit
        .as_ref()
        .and_then(|_| git(&["status", "--porcelain", "--untracked-files=no"]))
        .map(|s| !s.is_empty());
    json!({
        "quill_version": env!("CARGO_PKG_VERSION"),
        "git_commit": commit,
        "git_dirty": dirty,
        "avx512_kernels": cfg!(feature = "avx512"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_a_repository_the_git_fields_are_null() {
        let dir = std::env::temp_dir();
        let p = provenance(&dir);
        assert_eq!(p["quill_version"], env!("CARGO_PKG_VERSION"));
        if p["git_commit"].is_null() {
            assert!(p["git_dirty"].is_null());
        }
        // Inside this repository the commit is 40 hex digits.
        let here = provenance(Path::new(env!("CARGO_MANIFEST_DIR")));
        if let Some(commit) = here["git_commit"].as_str() {
            assert_eq!(commit.len(), 40, "{commit}");
            assert!(here["git_dirty"].is_boolean());
        }
    }
}
