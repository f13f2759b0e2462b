//! Fuzzes the SOG readers. The first byte picks what the rest replaces in a genuine small SOG:
//! its `meta.json` (mode 0), one of its WebP textures (mode 1, the second byte says which), or
//! a `lod-meta.json` over it as a unit (mode 2). A bundled `.sog` is a zip whose checksums
//! would stop almost every mutation before the readers behind it, hence the parts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use splatstitch_core::error::FormatError;
use splatstitch_core::formats::{decode_beside, encode, sog, Format, LoadOptions, NonFinitePolicy, SaveOptions};
use splatstitch_core::GaussianCloud;
use std::sync::OnceLock;

fn genuine() -> &'static sog::SogFiles {
    static FILES: OnceLock<sog::SogFiles> = OnceLock::new();
    FILES.get_or_init(|| {
        let mut c = GaussianCloud::with_len(40, 1);
        for i in 0..40 {
            let t = i as f32;
            c.positions[i] = [t * 0.1, (t * 0.3).sin(), 1.0 - t * 0.05];
            c.log_scales[i] = [-3.0 - 0.01 * t, -4.0, -2.5];
            c.opacities[i] = (t * 0.2).cos();
        }
        for (j, v) in c.sh.iter_mut().enumerate() {
            *v = (j as f32 * 0.37).sin() * 0.3;
        }
        sog::encode_files(&c, &sog::SogOptions::default()).expect("a small SOG")
    })
}

fn texture(name: &str) -> Result<Vec<u8>, FormatError> {
    genuine().texture(name)
}

fuzz_target!(|data: &[u8]| {
    let opts = LoadOptions { non_finite: NonFinitePolicy::Keep, ..Default::default() };
    let Some((&mode, rest)) = data.split_first() else { return };
    let files = genuine();
    let result = match mode % 3 {
        0 => decode_beside(rest, Format::SogMeta, &opts, Some(&texture)),
        1 => {
            let Some((&which, bytes)) = rest.split_first() else { return };
            let target = files.textures[usize::from(which) % files.textures.len()].0;
            let fetch = |name: &str| if name == target { Ok(bytes.to_vec()) } else { texture(name) };
            decode_beside(&files.meta_json, Format::SogMeta, &opts, Some(&fetch))
        }
        _ => {
            let fetch = |name: &str| match name.strip_prefix("u/") {
                Some("meta.json") => Ok(files.meta_json.clone()),
                Some(t) => texture(t),
                None => texture(name),
            };
            let lod = LoadOptions { lod: Some(u32::from(mode / 3 % 4)), ..opts.clone() };
            decode_beside(rest, Format::SogLod, &lod, Some(&fetch))
        }
    };
    if let Ok(loaded) = result
        && let Ok(bytes) = encode(&loaded.cloud, Format::Sog, &SaveOptions::default())
    {
        decode_beside(&bytes, Format::Sog, &opts, None).expect("our own output must decode");
    }
});
