//! Elastic support-diagnostics bundles: a `.zip` or `.tar.gz` of one, or its unpacked folder.
//!
//! - **In**: a path the user gave to `scan`.
//! - **Out**: for an archive, a temporary folder with its contents ([`extract`]); for a bundle
//!   folder, the API answers it holds ([`Bundle`]): `version.json`, `cluster_settings.json`,
//!   `remote_cluster_info.json`, `commercial/xpack.json`, roles, role mappings, users. The
//!   support-diagnostics tool names each file after the label of its request in
//!   `src/main/resources/elastic-rest.yml`, and copies `<cluster>.log` (or
//!   `<cluster>_server.json`) and the newest rotated `.log.gz` into `logs/`.
//! - **Never**: write outside the temporary folder (entries with `..` or absolute paths are
//!   skipped and counted), or unpack without bounds (size and entry caps).

use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use crate::model::Version;

/// Most bytes an archive may unpack to.
const MAX_UNPACKED: u64 = 8 << 30;
/// Most entries an archive may hold.
const MAX_ENTRIES: usize = 200_000;

/// An archive unpacked into a temporary folder (removed when dropped).
#[derive(Debug)]
pub struct Extracted {
    pub dir: tempfile::TempDir,
    /// The archive as the user named it.
    pub archive: String,
    /// Entries not unpacked (unsafe paths, links, over the caps), with why.
    pub skipped: Vec<String>,
}

/// The folders archives are unpacked into right now: removed by [`remove_unpacked`] when the
/// process is interrupted (SIGINT, SIGTERM), since a destructor does not run then and they hold
/// the bundle's logs unredacted.
static UNPACKED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Remove every folder an archive is unpacked into (the interrupt handler's job).
pub fn remove_unpacked() {
    let dirs = match UNPACKED.lock() {
        Ok(mut dirs) => std::mem::take(&mut *dirs),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}

impl Drop for Extracted {
    fn drop(&mut self) {
        if let Ok(mut dirs) = UNPACKED.lock() {
            dirs.retain(|d| d != self.dir.path());
        }
    }
}

/// Whether `path` names an archive keydoctor unpacks.
pub fn is_archive(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    path.is_file()
        && (name.ends_with(".zip") || name.ends_with(".tar.gz") || name.ends_with(".tgz"))
}

/// Unpack a `.zip`, `.tar.gz` or `.tgz` into a temporary folder.
pub fn extract(path: &Path) -> Result<Extracted, String> {
    let dir = tempfile::Builder::new()
        .prefix("keydoctor-bundle-")
        .tempdir()
        .map_err(|e| format!("cannot make a temporary folder: {e}"))?;
    if let Ok(mut dirs) = UNPACKED.lock() {
        dirs.push(dir.path().to_path_buf());
    }
    let mut out = Extracted {
        dir,
        archive: path.display().to_string(),
        skipped: Vec::new(),
    };
    let file = File::open(path).map_err(|e| super::io_reason(&e))?;
    let name = path.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".zip") {
        unzip(file, &mut out)?;
    } else {
        untar(file, &mut out)?;
    }
    Ok(out)
}

/// `entry` as a relative path inside the target, or `None` when it would leave it.
fn safe_relative(entry: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in entry.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Copy at most what is left of the size budget; `false` when the budget ran out.
fn copy_bounded(reader: &mut dyn Read, target: &Path, budget: &mut u64) -> Result<bool, String> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|e| super::io_reason(&e))?;
    }
    let mut file = File::create(target).map_err(|e| super::io_reason(&e))?;
    let copied = std::io::copy(&mut reader.take(*budget + 1), &mut file)
        .map_err(|e| format!("corrupt archive: {}", super::io_reason(&e)))?;
    if copied > *budget {
        return Ok(false);
    }
    *budget -= copied;
    Ok(true)
}

fn unzip(file: File, out: &mut Extracted) -> Result<(), String> {
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| format!("not a readable zip archive: {e}"))?;
    let mut budget = MAX_UNPACKED;
    for i in 0..zip.len().min(MAX_ENTRIES) {
        let mut entry = match zip.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                out.skipped.push(format!("entry {i}: {e}"));
                continue;
            }
        };
        if entry.is_dir() {
            continue;
        }
        let name = entry
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| format!("entry {i}"));
        let Some(rel) = entry.enclosed_name().and_then(|p| safe_relative(&p)) else {
            out.skipped
                .push(format!("{name}: a path outside the archive"));
            continue;
        };
        // One bad entry (a CRC error, a truncated body, a name the file system refuses, a
        // path that clashes with another) is a counted warning; the others are still read.
        match copy_bounded(&mut entry, &out.dir.path().join(rel), &mut budget) {
            Ok(true) => {}
            Ok(false) => {
                out.skipped.push(format!(
                    "{name}: the archive unpacks to more than 8 GiB; the rest was not read"
                ));
                return Ok(());
            }
            Err(e) => out
                .skipped
                .push(format!("{name}: {e}; the other entries were read")),
        }
    }
    if zip.len() > MAX_ENTRIES {
        out.skipped.push(format!(
            "{} entries past the first {MAX_ENTRIES}",
            zip.len() - MAX_ENTRIES
        ));
    }
    Ok(())
}

fn untar(file: File, out: &mut Extracted) -> Result<(), String> {
    let gz = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file));
    let mut archive = tar::Archive::new(gz);
    let entries = archive
        .entries()
        .map_err(|e| format!("not a readable tar.gz archive: {e}"))?;
    let mut budget = MAX_UNPACKED;
    for (n, entry) in entries.enumerate() {
        if n >= MAX_ENTRIES {
            out.skipped
                .push(format!("entries past the first {MAX_ENTRIES}"));
            break;
        }
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                out.skipped
                    .push(format!("corrupt archive after {n} entries: {e}"));
                break;
            }
        };
        let path = entry.path().map(|p| p.into_owned()).unwrap_or_default();
        if !entry.header().entry_type().is_file() {
            if !entry.header().entry_type().is_dir() {
                out.skipped
                    .push(format!("{}: not a regular file", path.display()));
            }
            continue;
        }
        let Some(rel) = safe_relative(&path) else {
            out.skipped
                .push(format!("{}: a path outside the archive", path.display()));
            continue;
        };
        match copy_bounded(&mut entry, &out.dir.path().join(rel), &mut budget) {
            Ok(true) => {}
            Ok(false) => {
                out.skipped.push(format!(
                    "{}: the archive unpacks to more than 8 GiB; the rest was not read",
                    path.display()
                ));
                break;
            }
            // A stream that broke inside an entry cannot be followed further: what came
            // before (and what of this entry was read) is kept.
            Err(e) if e.starts_with("corrupt archive") => {
                out.skipped.push(format!(
                    "{}: {e}; the entries before it were read, the rest could not be",
                    path.display()
                ));
                break;
            }
            Err(e) => out.skipped.push(format!(
                "{}: {e}; the other entries were read",
                path.display()
            )),
        }
    }
    Ok(())
}

/// The folder of a bundle: `dir` itself or its only subfolder (an unpacked archive holds
/// `api-diagnostics-<date>/`), when it has `version.json` and a manifest.
pub fn find(dir: &Path) -> Option<PathBuf> {
    let is_bundle = |d: &Path| {
        d.join("version.json").is_file()
            && (d.join("manifest.json").is_file() || d.join("diagnostic_manifest.json").is_file())
    };
    if is_bundle(dir) {
        return Some(dir.to_path_buf());
    }
    let mut subdirs = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()));
    let only = subdirs.next()?;
    if subdirs.next().is_some() {
        return None;
    }
    is_bundle(&only.path()).then(|| only.path())
}

/// What a bundle's API answers say.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// How the report names it (the archive or folder the user gave).
    pub label: String,
    pub cluster: Option<String>,
    pub cluster_uuid: Option<String>,
    pub version: Option<Version>,
    pub version_text: Option<String>,
    /// `commercial/xpack.json` (`GET /_xpack/usage`): its `security` object.
    pub security: Result<Value, String>,
    /// `remote_cluster_info.json`.
    pub remote_info: Result<Value, String>,
    /// `cluster_settings.json` (flat settings).
    pub settings: Result<Value, String>,
    /// `commercial/security_roles.json` (`GET /_security/role`).
    pub roles: Result<Value, String>,
    /// `commercial/security_users.json` (`GET /_security/user`).
    pub users: Result<Value, String>,
    /// `commercial/security_role_mappings.json` (`GET /_security/role_mapping`).
    pub role_mappings: Result<Value, String>,
    /// Roles, role mappings and users read (file names), for the report.
    pub read: Vec<String>,
}

/// Read the API answers in the bundle folder `root`.
pub fn read(root: &Path, label: &str) -> Bundle {
    let mut read_files = Vec::new();
    let mut json = |rel: &str| -> Result<Value, String> {
        let path = root.join(rel);
        let text =
            std::fs::read_to_string(&path).map_err(|_| format!("the bundle has no {rel}"))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| format!("{rel} is not JSON ({e})"))?;
        // The tool writes a failed request's error body in place of the answer.
        if value.get("error").is_some() && value.get("status").is_some() {
            return Err(format!(
                "{rel} holds an error the tool got: {}",
                value
                    .pointer("/error/reason")
                    .and_then(Value::as_str)
                    .unwrap_or("(no reason)")
            ));
        }
        read_files.push(rel.to_string());
        Ok(value)
    };
    let version = json("version.json").ok();
    let number = version
        .as_ref()
        .and_then(|v| v.pointer("/version/number"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let security = json("commercial/xpack.json").and_then(|v| {
        v.get("security")
            .cloned()
            .ok_or_else(|| "commercial/xpack.json has no security section".to_string())
    });
    let remote_info = json("remote_cluster_info.json");
    let settings = json("cluster_settings.json");
    let roles = json("commercial/security_roles.json");
    let role_mappings = json("commercial/security_role_mappings.json");
    let users = json("commercial/security_users.json");
    Bundle {
        label: label.to_string(),
        cluster: version
            .as_ref()
            .and_then(|v| v.get("cluster_name"))
            .and_then(Value::as_str)
            .map(str::to_string),
        cluster_uuid: version
            .as_ref()
            .and_then(|v| v.get("cluster_uuid"))
            .and_then(Value::as_str)
            .filter(|u| *u != "_na_")
            .map(str::to_string),
        version: number.as_deref().and_then(Version::parse),
        version_text: number,
        security,
        remote_info,
        settings,
        roles,
        users,
        role_mappings,
        read: read_files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_the_folder_are_refused() {
        assert_eq!(
            safe_relative(Path::new("a/b.log")),
            Some(PathBuf::from("a/b.log"))
        );
        assert_eq!(
            safe_relative(Path::new("./a/b.log")),
            Some(PathBuf::from("a/b.log"))
        );
        assert_eq!(safe_relative(Path::new("../etc/passwd")), None);
        assert_eq!(safe_relative(Path::new("/etc/passwd")), None);
        assert_eq!(safe_relative(Path::new("a/../../b")), None);
    }
}
