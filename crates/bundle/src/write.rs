//! Writing a rendered bundle to disk (the only file-system writer of this crate) and the resolved
//! config it carries.

use std::path::{Path, PathBuf};

use servebench_config::model::TestCase;

use crate::{Bundle, LOG_DIR, RenderError};

/// `config.resolved.yaml`: the resolved tree, each value not from the file with its origin.
pub(crate) fn resolved_config(case: &TestCase) -> String {
    let prov = &case.config.provenance;
    let mut out = format!(
        "# servebench resolved config of {} ({})\n# values not from the file carry their origin\n",
        case.test_id,
        case.display_name.replace(['\n', '\r'], " ")
    );
    out.push_str(&servebench_config::yaml::emit_annotated(
        &case.config.tree,
        &|path| prov.get(path).map(ToString::to_string),
    ));
    out
}

/// Writes a bundle into `dir/<test_id>/`. An existing bundle there is replaced (its `logs/` is
/// kept); a directory that is not a bundle is never touched. Files replacing an existing bundle's
/// are written atomically (temporary file, then rename).
pub fn write_bundle(dir: &Path, bundle: &Bundle) -> Result<PathBuf, RenderError> {
    let root = dir.join(&bundle.test_id);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RenderError::Write { path, source }
    };
    let fresh = !root.exists();
    if !fresh {
        if !root.join("launch.json").is_file() {
            return Err(RenderError::NotABundle { path: root });
        }
        for entry in std::fs::read_dir(&root).map_err(io(&root))? {
            let entry = entry.map_err(io(&root))?;
            if entry.file_name() == LOG_DIR {
                continue;
            }
            let p = entry.path();
            let r = if entry.file_type().map_err(io(&p))?.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            r.map_err(io(&p))?;
        }
    }
    let mut dirs: std::collections::BTreeSet<PathBuf> =
        bundle.dirs.iter().map(|d| root.join(d)).collect();
    dirs.insert(root.clone());
    for f in &bundle.files {
        if let Some(parent) = root.join(&f.path).parent() {
            dirs.insert(parent.to_path_buf());
        }
    }
    for d in &dirs {
        std::fs::create_dir_all(d).map_err(io(d))?;
    }
    for f in &bundle.files {
        let p = root.join(&f.path);
        // A fresh bundle directory has no reader yet: write in place. Replacing a bundle goes
        // through a temporary file and a rename, so no reader sees a half-written file.
        let target = if fresh {
            p.clone()
        } else {
            p.with_extension("servebench-tmp")
        };
        std::fs::write(&target, &f.contents).map_err(io(&target))?;
        #[cfg(unix)]
        if f.executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
                .map_err(io(&target))?;
        }
        if !fresh {
            std::fs::rename(&target, &p).map_err(io(&p))?;
        }
    }
    Ok(root)
}
