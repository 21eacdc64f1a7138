#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| errand_fuzz::recurrence_text(data));
