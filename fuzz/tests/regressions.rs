//! Every input that ever broke a target, replayed: `regressions/<target>/<name>`
//! holds the bytes as the target receives them (five bytes of context, then the
//! input). A crash `make fuzz` finds is copied here and must pass from then on.

use std::path::Path;

#[test]
fn every_recorded_input_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut replayed = 0;
    for (name, target) in errand_fuzz::TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(name)) else { continue };
        for entry in entries.flatten() {
            let data = std::fs::read(entry.path()).expect("read a regression input");
            // A stack overflow aborts the test binary: that fails this test too.
            target(&data);
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no regression inputs under {}", root.display());
}
