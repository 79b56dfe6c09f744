//! The SIMD masking kernels against the bytewise reference, at any length, key and
//! offset, and at any start alignment.
#![no_main]

use ferrosocket_codec::apply_mask;
use ferrosocket_codec::mask::{apply_mask_bytewise, apply_mask_simd, apply_mask_word};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let [k0, k1, k2, k3, offset, align, data @ ..] = input else {
        return;
    };
    let key = [*k0, *k1, *k2, *k3];
    let offset = usize::from(*offset);
    let align = usize::from(*align % 64);
    let mut expected = data.to_vec();
    apply_mask_bytewise(&mut expected, key, offset);
    type Kernel = fn(&mut [u8], [u8; 4], usize);
    let kernels: [Kernel; 3] = [apply_mask, apply_mask_simd, apply_mask_word];
    let mut backing = vec![0u8; data.len() + 64];
    for kernel in kernels {
        let buf = &mut backing[align..align + data.len()];
        buf.copy_from_slice(data);
        kernel(buf, key, offset);
        assert_eq!(buf, &expected[..]);
    }
});
