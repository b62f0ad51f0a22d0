//! `quill report --open`: the written page in the desktop's browser, through the platform's
//! own opener (`xdg-open`, `open`, `start`) rather than a crate, since one command is all it
//! takes.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::{Command, Stdio};

/// The command that opens a file with its default application here.
fn opener() -> (&'static str, &'static [&'static str]) {
    if cfg!(target_os = "macos") {
        ("open", &[])
    } else if cfg!(windows) {
        ("cmd", &["/C", "start", ""])
    } else {
        ("xdg-open", &[])
    }
}

/// Opens `page` (an `index.html`) in the default browser; an error saying what to run by
/// hand when there is no opener (a server without a desktop).
pub fn open_page(page: &Path) -> Result<()> {
    let (program, args) = opener();
    open_with(program, args, page)
}

fn open_with(program: &str, args: &[&str], page: &Path) -> Result<()> {
    let status = Command::new(program)
        .args(args)
        .arg(page)
        .stdin(Stdio::null())
        .status()
        .with_context(|| {
            format!(
                "opening {} with {program}: is there a desktop here? Open the file by hand, \
                 or copy the report directory to a machine with a browser",
                page.display()
            )
        })?;
    if !status.success() {
        bail!("{program} {} failed ({status})", page.display());
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn the_opener_gets_the_page_and_a_missing_one_says_what_to_do() {
        let dir = std::env::temp_dir().join(format!("quill-open-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let got = dir.join("got");
        let opener = dir.join("fake-opener");
        let script = format!("#!/bin/sh\necho \"$1\" > {}\n", got.display());
        std::fs::write(&opener, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
        let page = dir.join("index.html");
        open_with(opener.to_str().unwrap(), &[], &page).unwrap();
        let text = std::fs::read_to_string(&got).unwrap();
        assert_eq!(text.trim(), page.to_str().unwrap());

        let err = open_with("quill-no-such-opener", &[], &page).unwrap_err();
        assert!(
            format!("{err:#}").contains("Open the file by hand"),
            "{err:#}"
        );
        let err = open_with("false", &[], &page).unwrap_err().to_string();
        assert!(err.starts_with("false ") && err.contains("failed"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
