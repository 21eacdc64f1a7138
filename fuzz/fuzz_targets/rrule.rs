#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| errand_fuzz::rrule(data));
