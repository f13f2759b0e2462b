//! Streamed SOG: a `lod-meta.json` naming SOG units (`meta.json` folders or `.sog` bundles)
//! and an octree whose nodes say which run of which unit holds their Gaussians at each level of
//! detail. Level 0 is the finest. Reading one level gathers its runs from every unit.

use super::sog::{self, Fetch};
use crate::cloud::GaussianCloud;
use crate::error::{FormatError, Result};
use rayon::prelude::*;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Levels a manifest may declare (the writer makes a handful; this bounds what a file claims).
const MAX_LEVELS: u64 = 64;

fn invalid(reason: impl Into<String>) -> FormatError {
    FormatError::Invalid { format: "streamed SOG", reason: reason.into() }
}

#[derive(Deserialize)]
struct Manifest {
    version: Option<serde_json::Value>,
    #[serde(rename = "lodLevels")]
    lod_levels: u64,
    counts: Option<Vec<u64>>,
    filenames: Vec<String>,
    tree: Node,
}

#[derive(Deserialize)]
struct Node {
    #[serde(default)]
    lods: BTreeMap<String, Run>,
    #[serde(default)]
    children: Vec<Node>,
}

#[derive(Deserialize, Clone, Copy)]
struct Run {
    file: u64,
    offset: u64,
    count: u64,
}

/// What a streamed SOG holds and which level was read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LodSummary {
    /// The level read (0 is the finest).
    pub level: u32,
    /// Gaussians at each level.
    pub counts: Vec<u64>,
}

/// Each level's runs, by unit file.
fn runs_by_level(m: &Manifest) -> Result<RunsByLevel> {
    let mut levels = vec![BTreeMap::new(); m.lod_levels as usize];
    let mut stack = vec![&m.tree];
    while let Some(node) = stack.pop() {
        for (key, run) in &node.lods {
            let level: usize = key
                .parse()
                .ok()
                .filter(|&l: &usize| l < levels.len())
                .ok_or_else(|| invalid(format!("a node names level `{key}` of {}", m.lod_levels)))?;
            if run.file as usize >= m.filenames.len() || run.file >= u64::from(u32::MAX) {
                return Err(invalid(format!("a node names file {} of {}", run.file, m.filenames.len())));
            }
            levels[level].entry(run.file as usize).or_insert_with(Vec::new).push(*run);
        }
        stack.extend(&node.children);
    }
    Ok(levels)
}

/// Each level's runs of Gaussians, by the unit file holding them.
type RunsByLevel = Vec<BTreeMap<usize, Vec<Run>>>;

fn parse(bytes: &[u8]) -> Result<(Manifest, RunsByLevel)> {
    let m: Manifest = serde_json::from_slice(bytes).map_err(|e| invalid(format!("lod-meta.json: {e}")))?;
    match &m.version {
        None => {}
        Some(v) if v.as_u64() == Some(1) => {}
        Some(v) => {
            return Err(FormatError::FormatNotSupported(format!("lod-meta.json version {v} (version 1 is read)")));
        }
    }
    if m.lod_levels == 0 || m.lod_levels > MAX_LEVELS {
        return Err(invalid(format!("`lodLevels` is {} (1–{MAX_LEVELS})", m.lod_levels)));
    }
    if let Some(c) = &m.counts
        && c.len() as u64 != m.lod_levels
    {
        return Err(invalid(format!("`counts` has {} entries for {} levels", c.len(), m.lod_levels)));
    }
    let levels = runs_by_level(&m)?;
    Ok((m, levels))
}

/// The Gaussians of each level: the manifest's `counts`, or (older manifests) its runs' sum.
fn counts_of(m: &Manifest, levels: &RunsByLevel) -> Vec<u64> {
    m.counts.clone().unwrap_or_else(|| levels.iter().map(|f| f.values().flatten().map(|r| r.count).sum()).collect())
}

/// The Gaussians of each level, without decoding any unit.
pub fn level_counts(bytes: &[u8]) -> Result<Vec<u64>> {
    let (m, levels) = parse(bytes)?;
    Ok(counts_of(&m, &levels))
}

/// Decodes one level (the finest, 0, unless told) of a `lod-meta.json`, reading its units
/// through `fetch` (paths relative to the manifest).
pub fn decode(bytes: &[u8], fetch: Fetch, level: Option<u32>) -> Result<(GaussianCloud, LodSummary)> {
    let (m, levels) = parse(bytes)?;
    let counts = counts_of(&m, &levels);
    let level = level.unwrap_or(0);
    let Some(files) = levels.get(level as usize) else {
        return Err(FormatError::FormatNotSupported(format!(
            "level {level} does not exist: this streamed SOG has levels 0–{} (0 is the finest; Gaussians per level: {})",
            levels.len() - 1,
            counts.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
        )));
    };
    let claimed: u64 = files.values().flatten().map(|r| r.count).sum();
    if claimed != counts[level as usize] {
        return Err(invalid(format!(
            "level {level}'s nodes hold {claimed} Gaussians but `counts` says {}",
            counts[level as usize]
        )));
    }
    let units: Vec<GaussianCloud> = files
        .par_iter()
        .map(|(&file, runs)| {
            let name = &m.filenames[file];
            let unit = decode_unit(name, fetch)?;
            let mut runs = runs.clone();
            runs.sort_by_key(|r| r.offset);
            let mut keep = vec![false; unit.len()];
            for r in &runs {
                let end = r.offset.checked_add(r.count).filter(|&e| e <= unit.len() as u64).ok_or_else(|| {
                    invalid(format!("a node reads {}..+{} of `{name}`, which holds {}", r.offset, r.count, unit.len()))
                })?;
                keep[r.offset as usize..end as usize].iter_mut().for_each(|k| *k = true);
            }
            Ok(if keep.iter().all(|&k| k) { unit } else { unit.select(&keep) })
        })
        .collect::<Result<_>>()?;
    let degree = units.iter().map(|u| u.sh_degree).min().unwrap_or(0);
    let mut cloud = GaussianCloud::new(degree);
    for mut u in units {
        u.truncate_sh_degree(degree);
        cloud.append(&u);
    }
    Ok((cloud, LodSummary { level, counts }))
}

/// One unit: a bundled `.sog`, or a `meta.json` whose textures lie beside it.
fn decode_unit(name: &str, fetch: Fetch) -> Result<GaussianCloud> {
    let bytes = fetch(name)?;
    let in_unit = |what: FormatError| invalid(format!("unit `{name}`: {what}"));
    if name.to_ascii_lowercase().ends_with(".sog") {
        return sog::decode_bundle(&bytes).map(|(c, _)| c).map_err(in_unit);
    }
    let folder = name.rfind('/').map(|i| &name[..=i]).unwrap_or("");
    let beside = |texture: &str| fetch(&format!("{folder}{texture}"));
    sog::decode_meta(&bytes, &beside).map(|(c, _)| c).map_err(in_unit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::test_cloud;
    use std::collections::HashMap;

    fn store(fine: &GaussianCloud, coarse: &GaussianCloud) -> HashMap<String, Vec<u8>> {
        let mut files = HashMap::new();
        for (folder, cloud) in [("0_0", fine), ("1_0", coarse)] {
            let f = sog::encode_files(cloud, &sog::SogOptions::default()).unwrap();
            files.insert(format!("{folder}/meta.json"), f.meta_json);
            for (n, b) in f.textures {
                files.insert(format!("{folder}/{n}"), b);
            }
        }
        files
    }

    fn manifest(fine: usize, coarse: usize) -> String {
        format!(
            r#"{{"version":1,"count":{},"counts":[{fine},{coarse}],"lodLevels":2,"filenames":["0_0/meta.json","1_0/meta.json"],
            "tree":{{"bound":{{"min":[0,0,0],"max":[1,1,1]}},"lods":{{"0":{{"file":0,"offset":0,"count":{fine}}},"1":{{"file":1,"offset":0,"count":{coarse}}}}}}}}}"#,
            fine + coarse
        )
    }

    #[test]
    fn each_level_reads_its_units() {
        let (fine, coarse) = (test_cloud(120, 1), test_cloud(30, 1));
        let files = store(&fine, &coarse);
        let fetch = |n: &str| files.get(n).cloned().ok_or_else(|| invalid(format!("no {n}")));
        let json = manifest(120, 30);
        let (c0, s0) = decode(json.as_bytes(), &fetch, None).unwrap();
        assert_eq!((c0.len(), s0.level, s0.counts.clone()), (120, 0, vec![120, 30]));
        let (c1, s1) = decode(json.as_bytes(), &fetch, Some(1)).unwrap();
        assert_eq!((c1.len(), s1.level), (30, 1));
        assert_eq!(level_counts(json.as_bytes()).unwrap(), vec![120, 30]);
        let e = decode(json.as_bytes(), &fetch, Some(2)).unwrap_err().to_string();
        assert!(e.contains("levels 0–1") && e.contains("120, 30"), "{e}");
    }

    #[test]
    fn bad_manifests_get_named_errors() {
        let (fine, coarse) = (test_cloud(20, 0), test_cloud(10, 0));
        let files = store(&fine, &coarse);
        let fetch = |n: &str| files.get(n).cloned().ok_or_else(|| invalid(format!("no {n}")));
        let err = |json: String| decode(json.as_bytes(), &fetch, None).unwrap_err().to_string();
        assert!(err(manifest(20, 10).replace("\"counts\":[20,10]", "\"counts\":[21,10]")).contains("counts"));
        assert!(
            err(manifest(20, 10).replace("\"offset\":0,\"count\":20", "\"offset\":5,\"count\":20"))
                .contains("holds 20")
        );
        assert!(err(manifest(20, 10).replace("\"lodLevels\":2", "\"lodLevels\":0")).contains("lodLevels"));
        assert!(err(manifest(20, 10).replace("\"file\":1", "\"file\":9")).contains("file 9"));
        assert!(err(manifest(20, 10).replace("\"version\":1", "\"version\":7")).contains("version 7"));
        assert!(err("[]".into()).contains("lod-meta.json"));
    }
}
