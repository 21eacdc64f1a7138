#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| errand_fuzz::chat_message(data));
