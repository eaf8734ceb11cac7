//! What the user named, opened: archives unpacked into temporary folders (kept while the
//! value lives), the support-diagnostics bundles among the paths, and what could not be opened.

use super::walk::FileEntry;

/// The paths to walk: archives unpacked into temporary folders (kept until the scan ends),
/// and the support-diagnostics bundles among them.
pub struct Inputs {
    pub paths: Vec<std::path::PathBuf>,
    pub extracted: Vec<super::bundle::Extracted>,
    pub bundles: Vec<super::bundle::Bundle>,
    pub skipped: Vec<super::Skipped>,
}

impl Inputs {
    pub fn open(given: &[std::path::PathBuf]) -> Self {
        use super::bundle;
        let mut out = Self {
            paths: Vec::new(),
            extracted: Vec::new(),
            bundles: Vec::new(),
            skipped: Vec::new(),
        };
        for p in given {
            let label = p.display().to_string();
            let dir = if bundle::is_archive(p) {
                match bundle::extract(p) {
                    Ok(x) => {
                        for why in &x.skipped {
                            out.skipped.push(super::Skipped {
                                source: label.clone(),
                                reason: super::SkipReason::Unreadable(format!(
                                    "archive entry not read: {why}"
                                )),
                            });
                        }
                        let dir = x.dir.path().to_path_buf();
                        out.extracted.push(x);
                        dir
                    }
                    Err(why) => {
                        out.skipped.push(super::Skipped {
                            source: label,
                            reason: super::SkipReason::Unreadable(why),
                        });
                        continue;
                    }
                }
            } else {
                p.clone()
            };
            if dir.is_dir() {
                if let Some(root) = bundle::find(&dir) {
                    // Named as the user sees it: the archive or folder, then the bundle's own
                    // folder inside it.
                    let shown = match root.strip_prefix(&dir) {
                        Ok(rel) if !rel.as_os_str().is_empty() => {
                            format!("{label}/{}", rel.display())
                        }
                        _ => label.clone(),
                    };
                    out.bundles.push(bundle::read(&root, &shown));
                }
            }
            out.paths.push(dir);
        }
        out
    }

    /// Files unpacked from an archive are named `<archive>/<path inside it>`.
    pub fn label(&self, files: &mut [FileEntry]) {
        for f in files {
            for x in &self.extracted {
                if let Ok(rel) = f.path.strip_prefix(x.dir.path()) {
                    f.label = Some(format!("{}/{}", x.archive, rel.display()));
                }
            }
        }
    }
}
