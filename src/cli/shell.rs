//! The command line describing itself: shell completions and manual pages, both made from the
//! one clap description of the arguments (so they can never disagree with `--help`).

use std::io::Write;
use std::path::Path;

use super::{CmdResult, Io};
use crate::error::{Error, Outcome};

/// `keydoctor completions SHELL`: the completion script on stdout.
pub(super) fn completions(
    mut cmd: clap::Command,
    shell: clap_complete::Shell,
    io: &mut Io<'_>,
) -> CmdResult {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "keydoctor", &mut script);
    io.stdout.write_all(&script)?;
    Ok(Outcome::Clean)
}

/// `keydoctor man`: keydoctor(1) on stdout; with `--dir DIR`, keydoctor.1 and one
/// keydoctor-<command>.1 per command written there (the names printed, one per line).
pub(super) fn man(cmd: clap::Command, dir: Option<&Path>, io: &mut Io<'_>) -> CmdResult {
    let Some(dir) = dir else {
        io.stdout.write_all(&page(cmd)?)?;
        return Ok(Outcome::Clean);
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Usage(format!("--dir {}: cannot create it: {e}", dir.display())))?;
    let mut pages = vec![("keydoctor.1".to_string(), page(cmd.clone())?)];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("keydoctor-{}", sub.get_name());
        // The page is keydoctor-scan(1), as git's are; its synopsis is the command as typed.
        let sub = sub
            .clone()
            .display_name(name.clone())
            .bin_name(format!("keydoctor {}", sub.get_name()))
            .version(super::version_text());
        pages.push((format!("{name}.1"), page(sub)?));
    }
    for (name, text) in pages {
        let path = dir.join(&name);
        std::fs::write(&path, text)
            .map_err(|e| Error::Usage(format!("{}: cannot write it: {e}", path.display())))?;
        writeln!(io.stdout, "{}", path.display())?;
    }
    Ok(Outcome::Clean)
}

fn page(cmd: clap::Command) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    Ok(out)
}
