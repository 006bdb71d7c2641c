//! Integer compositing kernels on 16-bit values, bit-for-bit the Cython kernels
//! (`native/_kernels.pyx`) and their numpy reference (`native/kernels_ref.py`): the same
//! rounding (to nearest, 65535 odd so never a tie), the same saturation, the same order.

pub const FULL: u16 = 65535;
const HALF: u32 = 32767;

/// How a layer combines with what is below it (the numbers of `kernels.BlendMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlendMode {
    Normal = 0,
    Add = 1,
    Multiply = 2,
    Screen = 3,
    Max = 4,
}

impl BlendMode {
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::Normal,
            1 => Self::Add,
            2 => Self::Multiply,
            3 => Self::Screen,
            4 => Self::Max,
            _ => return None,
        })
    }
}

/// x / 65535 rounded to nearest, for x <= 65535², without a division (see `_kernels.pyx`).
#[inline(always)]
fn div_round(x: u32) -> u16 {
    let y = x + HALF;
    ((y + (y >> 16) + 1) >> 16) as u16
}

#[inline(always)]
fn mul(x: u16, y: u16) -> u16 {
    div_round(u32::from(x) * u32::from(y))
}

#[inline(always)]
fn lerp(a: u16, b: u16, t: u16, inv_t: u16) -> u16 {
    div_round(u32::from(a) * u32::from(inv_t) + u32::from(b) * u32::from(t))
}

#[inline(always)]
fn screen(d: u16, s: u16) -> u16 {
    FULL - mul(FULL - d, FULL - s)
}

/// Product of two levels (grand master × canvas master).
pub fn combine_levels(a: u16, b: u16) -> u16 {
    mul(a, b)
}

/// `dst = lerp(dst, f(dst, src), opacity)`; lengths must match.
pub fn blend(dst: &mut [u16], src: &[u16], mode: BlendMode, opacity: u16) {
    debug_assert_eq!(dst.len(), src.len());
    if opacity == 0 {
        return;
    }
    let n = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    if opacity == FULL {
        // lerp(d, f, 65535) == f exactly: skip the lerp
        match mode {
            BlendMode::Normal => dst.copy_from_slice(src),
            BlendMode::Add => dst
                .iter_mut()
                .zip(src)
                .for_each(|(d, &s)| *d = d.saturating_add(s)),
            BlendMode::Multiply => dst.iter_mut().zip(src).for_each(|(d, &s)| *d = mul(*d, s)),
            BlendMode::Screen => dst
                .iter_mut()
                .zip(src)
                .for_each(|(d, &s)| *d = screen(*d, s)),
            BlendMode::Max => dst.iter_mut().zip(src).for_each(|(d, &s)| *d = (*d).max(s)),
        }
        return;
    }
    let (t, inv) = (opacity, FULL - opacity);
    match mode {
        BlendMode::Normal => dst
            .iter_mut()
            .zip(src)
            .for_each(|(d, &s)| *d = lerp(*d, s, t, inv)),
        BlendMode::Add => dst
            .iter_mut()
            .zip(src)
            .for_each(|(d, &s)| *d = lerp(*d, d.saturating_add(s), t, inv)),
        BlendMode::Multiply => dst
            .iter_mut()
            .zip(src)
            .for_each(|(d, &s)| *d = lerp(*d, mul(*d, s), t, inv)),
        BlendMode::Screen => dst
            .iter_mut()
            .zip(src)
            .for_each(|(d, &s)| *d = lerp(*d, screen(*d, s), t, inv)),
        BlendMode::Max => dst
            .iter_mut()
            .zip(src)
            .for_each(|(d, &s)| *d = lerp(*d, (*d).max(s), t, inv)),
    }
}

/// `out = lerp(a, b, up)` where b > a, else `lerp(a, b, down)` (a cue's up and down fades).
pub fn crossfade_split(out: &mut [u16], a: &[u16], b: &[u16], up: u16, down: u16) {
    let (inv_up, inv_down) = (FULL - up, FULL - down);
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = if y > x {
            lerp(x, y, up, inv_up)
        } else {
            lerp(x, y, down, inv_down)
        };
    }
}

/// `buf = buf * level / 65535` in place.
pub fn scale(buf: &mut [u16], level: u16) {
    match level {
        FULL => {}
        0 => buf.fill(0),
        _ => buf.iter_mut().for_each(|v| *v = mul(*v, level)),
    }
}

/// `out = max(a, b)` element-wise (an HTP merge).
pub fn htp(out: &mut [u16], a: &[u16], b: &[u16]) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = x.max(y);
    }
}

/// Every pixel of an RGB buffer set to one colour.
pub fn fill_rgb(out: &mut [u16], rgb: [u16; 3]) {
    for px in out.chunks_exact_mut(3) {
        px.copy_from_slice(&rgb);
    }
}

/// RGB → RGBW with W = min(R, G, B) taken out of each of R, G and B.
pub fn rgb_to_rgbw(out: &mut [u16], rgb: &[u16]) {
    for (o, s) in out.chunks_exact_mut(4).zip(rgb.chunks_exact(3)) {
        let w = s[0].min(s[1]).min(s[2]);
        o[0] = s[0] - w;
        o[1] = s[1] - w;
        o[2] = s[2] - w;
        o[3] = w;
    }
}

/// The intensity plane: the brightest of R, G and B per pixel.
pub fn intensity(out: &mut [u16], rgb: &[u16]) {
    for (o, s) in out.iter_mut().zip(rgb.chunks_exact(3)) {
        *o = s[0].max(s[1]).max(s[2]);
    }
}

/// The patch's gather: `out[i] = luts[lut_id[i] * 65536 + src[src_index[i]]]`, 0 where the
/// index is negative. The tables were checked when the plan was built, so every index is in
/// range; an out-of-range one (impossible) writes 0 rather than reading outside a buffer.
pub fn lut_gather_u8(out: &mut [u8], src: &[u16], src_index: &[i32], lut_id: &[u8], luts: &[u8]) {
    for ((o, &k), &table) in out.iter_mut().zip(src_index).zip(lut_id) {
        *o = match usize::try_from(k).ok().and_then(|k| src.get(k)) {
            Some(&v) => luts
                .get((usize::from(table) << 16) + usize::from(v))
                .copied()
                .unwrap_or(0),
            None => 0,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn div_round_matches_division() {
        for x in (0..=65535u32 * 65535).step_by(9973) {
            assert_eq!(u32::from(div_round(x)), (x + 32767) / 65535, "x = {x}");
        }
        assert_eq!(div_round(65535 * 65535), 65535);
    }

    #[test]
    fn blend_ends_are_exact() {
        let mut d = vec![100u16, 60000, 0];
        blend(&mut d, &[5, 5, 65535], BlendMode::Normal, FULL);
        assert_eq!(d, [5, 5, 65535]);
        let mut d = vec![100u16, 60000];
        blend(&mut d, &[5, 5], BlendMode::Normal, 0);
        assert_eq!(d, [100, 60000]);
        let mut d = vec![60000u16];
        blend(&mut d, &[60000], BlendMode::Add, FULL);
        assert_eq!(d, [65535]);
    }

    #[test]
    fn crossfade_split_takes_up_for_rising_values() {
        let mut o = [0u16; 2];
        crossfade_split(&mut o, &[0, 65535], &[65535, 0], FULL, 0);
        assert_eq!(o, [65535, 65535]);
    }

    #[test]
    fn planes_and_gather() {
        let mut w = [0u16; 4];
        rgb_to_rgbw(&mut w, &[10, 20, 30]);
        assert_eq!(w, [0, 10, 20, 10]);
        let mut i = [0u16; 1];
        intensity(&mut i, &[10, 20, 30]);
        assert_eq!(i, [30]);
        let luts: Vec<u8> = (0..65536u32).map(|v| (v >> 8) as u8).collect();
        let mut out = [9u8; 3];
        lut_gather_u8(&mut out, &[0x1234, 0xff00], &[1, -1, 0], &[0, 0, 0], &luts);
        assert_eq!(out, [0xff, 0, 0x12]);
    }
}
