//! Layer sources the render thread draws itself: pure functions of frame time, ported from
//! `playout/render/sources/` (which stays the reference and computes every table here at
//! build time, so only the per-frame arithmetic is native). Static sources are drawn once by
//! Python; anything else animated reaches the thread through a [`Slot`].

use std::sync::{Arc, Mutex};

/// Palettes are `(m, 4)` u16 tables (RGB plus a pad), as `sources.palette_lut` builds them.
const LUT_STRIDE: usize = 4;

fn clamp_index(v: f32, top: f32) -> usize {
    // trunc of v clamped to 0..top (NaN gives 0), as the Cython `_clamp_block`
    let f = if v > 0.0 { v } else { 0.0 };
    let f = if f < top { f } else { top };
    f as usize
}

fn put(out: &mut [u16], i: usize, lut: &[u16], k: usize) {
    out[3 * i..3 * i + 3].copy_from_slice(&lut[LUT_STRIDE * k..LUT_STRIDE * k + 3]);
}

/// `x mod 1` in 0..1 (float64: t may be days of seconds).
fn cycle_phase(x: f64) -> f64 {
    x - x.floor()
}

/// Python's float `%` for a positive divisor (result in 0..m).
fn py_mod(x: f64, m: f64) -> f64 {
    let r = x % m;
    if r != 0.0 && r < 0.0 {
        r + m
    } else {
        r
    }
}

/// Frames handed over by Python (video, live feeds, animated sources with no native port):
/// the newest one wins; the render thread copies it when it changed, never waits for one.
#[derive(Debug, Default)]
pub struct Slot {
    frame: Mutex<(Vec<u16>, u64)>,
}

impl Slot {
    pub fn write(&self, values: &[u16]) {
        let mut g = self
            .frame
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.0.clear();
        g.0.extend_from_slice(values);
        g.1 += 1;
    }

    /// Copy the newest frame into `out` if it is newer than `seen` and the right size.
    /// Never waits: while Python is writing (it holds the lock for a copy), the layer keeps
    /// the frame it has and takes the new one next time.
    fn read_into(&self, out: &mut [u16], seen: &mut u64) {
        let g = match self.frame.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return,
        };
        if g.1 != *seen && g.0.len() == out.len() {
            out.copy_from_slice(&g.0);
            *seen = g.1;
        }
    }

    pub fn writes(&self) -> u64 {
        self.frame
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .1
    }
}

/// A moving linear or radial gradient: `pos` per pixel in table entries, scrolled by
/// `speed · t · span` and wrapped into a table of `cycle` entries (`_Gradient.draw`).
#[derive(Debug, Clone)]
pub struct Shift {
    pub pos: Vec<f32>,
    pub lut: Vec<u16>,
    pub mask: i32,
    pub speed: f64,
    pub span: f64,
    pub cycle: f64,
}

impl Shift {
    fn draw(&self, t: f64, out: &mut [u16]) {
        let shift = py_mod(-self.speed * t * self.span, self.cycle);
        let m = (self.lut.len() / LUT_STRIDE) as f64;
        let shift = if shift.is_finite() {
            py_mod(shift, m)
        } else {
            0.0
        } as f32;
        for (i, &p) in self.pos.iter().enumerate() {
            let k = ((p + shift) as i32) & self.mask;
            put(out, i, &self.lut, k as usize);
        }
    }
}

/// A travelling bar (`Chase.coverage` and `Chase.draw`): the integrated light profile is
/// tabulated by Python (`grid`, `table`) and read with numpy's `interp` rules.
#[derive(Debug, Clone)]
pub struct Chase {
    pub grid: Vec<f64>,
    pub table: Vec<f64>,
    pub colour: [f64; 3],
    pub background: [f64; 3],
    pub speed: f64,
    pub length: usize,
    pub bar: f64,
    pub reverse: bool,
    pub horizontal: bool,
    pub width: usize,
    pub height: usize,
    line: Vec<[u16; 3]>,
    level: Vec<f64>,
}

impl Chase {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        grid: Vec<f64>,
        table: Vec<f64>,
        colour: [f64; 3],
        background: [f64; 3],
        speed: f64,
        bar: f64,
        reverse: bool,
        horizontal: bool,
        width: usize,
        height: usize,
    ) -> Self {
        let length = if horizontal { width } else { height };
        Self {
            grid,
            table,
            colour,
            background,
            speed,
            length,
            bar,
            reverse,
            horizontal,
            width,
            height,
            line: vec![[0; 3]; length],
            level: vec![0.0; length],
        }
    }

    /// numpy.interp(x, grid, table): clamped at both ends, linear between grid points.
    fn interp(&self, x: f64) -> f64 {
        let (g, f) = (&self.grid, &self.table);
        let last = g.len() - 1;
        if x > g[last] {
            return f[last];
        }
        if x < g[0] {
            return f[0];
        }
        let j = g.partition_point(|&v| v <= x).saturating_sub(1);
        if j == last || g[j] == x {
            return f[j];
        }
        let slope = (f[j + 1] - f[j]) / (g[j + 1] - g[j]);
        slope * (x - g[j]) + f[j]
    }

    fn draw(&mut self, t: f64, out: &mut [u16]) {
        let n = self.length;
        let nf = n as f64;
        if self.bar == 0.0 {
            self.level.fill(0.0);
        } else {
            let start = cycle_phase(self.speed * t) * nf;
            for i in 0..n {
                let d = py_mod(i as f64 - start, nf);
                let mut level = self.interp(d + 1.0) - self.interp(d);
                level += self.interp(d + (1.0 - nf));
                self.level[i] = level;
            }
            if self.reverse {
                self.level.reverse();
            }
        }
        for (px, &level) in self.line.iter_mut().zip(&self.level) {
            let level = level.clamp(0.0, 1.0);
            for ((v, &bg), &fg) in px.iter_mut().zip(&self.background).zip(&self.colour) {
                *v = (bg + (fg - bg) * level).round_ties_even() as u16;
            }
        }
        let w = self.width;
        for y in 0..self.height {
            for x in 0..w {
                let px = if self.horizontal {
                    self.line[x]
                } else {
                    self.line[y]
                };
                out[3 * (y * w + x)..3 * (y * w + x) + 3].copy_from_slice(&px);
            }
        }
    }
}

/// Value noise drifting through time (`Noise.slice`, `_advance`, `draw`).
#[derive(Debug, Clone)]
pub struct Noise {
    pub ix: Vec<i64>,
    pub fx: Vec<f64>,
    pub fy32: Vec<f32>,
    /// (lattice row j, first canvas row, end row)
    pub bands: Vec<(usize, usize, usize)>,
    pub lat_w: usize,
    pub lat_h: usize,
    pub seed: i64,
    pub speed: f64,
    pub lut: Vec<u16>,
    pub width: usize,
    pub height: usize,
    z0: Option<i64>,
    s0: Vec<f32>,
    s1: Vec<f32>,
    a: Vec<f32>,
    d: Vec<f32>,
    lat: Vec<f64>,
    rows: Vec<f32>,
}

impl Noise {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ix: Vec<i64>,
        fx: Vec<f64>,
        fy32: Vec<f32>,
        bands: Vec<(usize, usize, usize)>,
        lat_w: usize,
        lat_h: usize,
        seed: i64,
        speed: f64,
        lut: Vec<u16>,
        width: usize,
        height: usize,
    ) -> Self {
        let n = width * height;
        Self {
            ix,
            fx,
            fy32,
            bands,
            lat_w,
            lat_h,
            seed,
            speed,
            lut,
            width,
            height,
            z0: None,
            s0: vec![0.0; n],
            s1: vec![0.0; n],
            a: vec![0.0; n],
            d: vec![0.0; n],
            lat: vec![0.0; lat_w * lat_h],
            rows: vec![0.0; lat_h * width],
        }
    }

    /// `lattice_values`: a multiply-xor hash of the lattice point, the slice and the seed.
    fn lattice(&mut self, z: i64) {
        let zs = z
            .wrapping_mul(0xCB1A_B31F)
            .wrapping_add(self.seed.wrapping_mul(0x1656_67B1))
            .wrapping_add(0x27D4_EB2F) as u32;
        for iy in 0..self.lat_h {
            let hy = (iy as u32).wrapping_mul(0xD816_3841);
            for ix in 0..self.lat_w {
                let hx = (ix as u32).wrapping_mul(0x8DA6_B343);
                let mut h = (hy ^ hx) ^ zs;
                h ^= h >> 16;
                h = h.wrapping_mul(0x7FEB_352D);
                h ^= h >> 15;
                h = h.wrapping_mul(0x846C_A68B);
                h ^= h >> 16;
                self.lat[iy * self.lat_w + ix] = f64::from(h >> 8) * (1.0 / f64::from(1u32 << 24));
            }
        }
    }

    fn slice(&mut self, z: i64, first: bool) {
        self.lattice(z);
        let w = self.width;
        for j in 0..self.lat_h {
            let lat = &self.lat[j * self.lat_w..(j + 1) * self.lat_w];
            for x in 0..w {
                let i = self.ix[x] as usize;
                let fx = self.fx[x];
                self.rows[j * w + x] = (lat[i] * (1.0 - fx) + lat[i + 1] * fx) as f32;
            }
        }
        let out = if first { &mut self.s0 } else { &mut self.s1 };
        for &(j, y0, y1) in &self.bands {
            let (r0, r1) = (
                &self.rows[j * w..(j + 1) * w],
                &self.rows[(j + 1) * w..(j + 2) * w],
            );
            for y in y0..y1 {
                let fy = self.fy32[y];
                for x in 0..w {
                    out[y * w + x] = fy * (r1[x] - r0[x]) + r0[x];
                }
            }
        }
    }

    fn advance(&mut self, z0: i64) {
        match self.z0 {
            Some(prev) if z0 == prev + 1 => {
                std::mem::swap(&mut self.s0, &mut self.s1);
                self.slice(z0 + 1, false);
            }
            Some(prev) if z0 == prev - 1 => {
                std::mem::swap(&mut self.s0, &mut self.s1);
                self.slice(z0, true);
            }
            _ => {
                self.slice(z0, true);
                self.slice(z0 + 1, false);
            }
        }
        self.z0 = Some(z0);
        let top = (self.lut.len() / LUT_STRIDE - 1) as f32;
        for i in 0..self.a.len() {
            self.a[i] = self.s0[i] * top + 0.5;
            self.d[i] = (self.s1[i] - self.s0[i]) * top;
        }
    }

    fn draw(&mut self, t: f64, out: &mut [u16]) {
        let z = self.speed * t;
        let z0f = z.floor();
        let z0 = z0f as i64;
        if self.z0 != Some(z0) {
            self.advance(z0);
        }
        let f = z - z0f;
        let w = (f * f * (3.0 - 2.0 * f)) as f32;
        let top = (self.lut.len() / LUT_STRIDE - 1) as f32;
        for i in 0..self.a.len() {
            put(
                out,
                i,
                &self.lut,
                clamp_index(self.a[i] + self.d[i] * w, top),
            );
        }
    }
}

/// Relative phase rates of the plasma's four sine terms (`_PLASMA_RATES`).
const PLASMA_RATES: [f64; 4] = [1.0, -0.7, 1.3, -1.1];

/// Four summed sines through a palette (`Plasma.draw` and `plasma_gather`).
#[derive(Debug, Clone)]
pub struct Plasma {
    pub kx: Vec<f64>,
    pub ky: Vec<f64>,
    pub ax: Vec<f64>,
    pub cb: Vec<f32>,
    pub sb: Vec<f32>,
    pub sr: Vec<f32>,
    pub cr: Vec<f32>,
    pub gain: f64,
    pub speed: f64,
    pub lut: Vec<u16>,
    colx: Vec<f32>,
    rowy: Vec<f32>,
    sa: Vec<f32>,
    ca: Vec<f32>,
}

impl Plasma {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kx: Vec<f64>,
        ky: Vec<f64>,
        ax: Vec<f64>,
        cb: Vec<f32>,
        sb: Vec<f32>,
        sr: Vec<f32>,
        cr: Vec<f32>,
        gain: f64,
        speed: f64,
        lut: Vec<u16>,
    ) -> Self {
        let (w, h) = (kx.len(), ky.len());
        Self {
            kx,
            ky,
            ax,
            cb,
            sb,
            sr,
            cr,
            gain,
            speed,
            lut,
            colx: vec![0.0; w],
            rowy: vec![0.0; h],
            sa: vec![0.0; w],
            ca: vec![0.0; w],
        }
    }

    fn draw(&mut self, t: f64, out: &mut [u16]) {
        let p = PLASMA_RATES
            .map(|rate| 2.0 * std::f64::consts::PI * cycle_phase(self.speed * rate * t));
        let g = self.gain;
        for x in 0..self.kx.len() {
            self.colx[x] = (g * (self.kx[x] + p[0]).sin() + (4.0 * g + 0.5)) as f32;
            let a = self.ax[x] + p[2];
            self.sa[x] = (g * a.sin()) as f32;
            self.ca[x] = (g * a.cos()) as f32;
        }
        for y in 0..self.ky.len() {
            self.rowy[y] = (g * (self.ky[y] + p[1]).sin()) as f32;
        }
        let (c4, s4) = ((g * p[3].cos()) as f32, (g * p[3].sin()) as f32);
        let top = (self.lut.len() / LUT_STRIDE - 1) as f32;
        let w = self.kx.len();
        for y in 0..self.ky.len() {
            let (ry, cby, sby) = (self.rowy[y], self.cb[y], self.sb[y]);
            for x in 0..w {
                let i = y * w + x;
                // left to right, as the reference adds
                let v = self.colx[x]
                    + ry
                    + self.sa[x] * cby
                    + self.ca[x] * sby
                    + self.sr[i] * c4
                    + self.cr[i] * s4;
                put(out, i, &self.lut, clamp_index(v, top));
            }
        }
    }
}

/// One layer's source, as the render thread holds it.
#[derive(Debug, Clone)]
pub enum Source {
    /// Drawn once (its buffer is filled when the layer is made).
    Static,
    /// Frames written by Python; `seen` is the last write copied.
    Slot {
        slot: Arc<Slot>,
        seen: u64,
    },
    Shift(Shift),
    Chase(Chase),
    Noise(Box<Noise>),
    Plasma(Plasma),
}

impl Source {
    /// Draw frame time `t` into `out` ((h, w, 3) values).
    pub fn draw(&mut self, t: f64, out: &mut [u16]) {
        match self {
            Self::Static => {}
            Self::Slot { slot, seen } => slot.read_into(out, seen),
            Self::Shift(s) => s.draw(t, out),
            Self::Chase(c) => c.draw(t, out),
            Self::Noise(n) => n.draw(t, out),
            Self::Plasma(p) => p.draw(t, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_modulo() {
        assert_eq!(py_mod(-1.5, 4.0), 2.5);
        assert_eq!(py_mod(5.0, 4.0), 1.0);
        assert_eq!(py_mod(-8.0, 4.0), 0.0);
    }

    #[test]
    fn slot_copies_only_new_frames_of_the_right_size() {
        let slot = Arc::new(Slot::default());
        let mut src = Source::Slot {
            slot: Arc::clone(&slot),
            seen: 0,
        };
        let mut out = [7u16; 3];
        src.draw(0.0, &mut out);
        assert_eq!(out, [7, 7, 7]);
        slot.write(&[1, 2]);
        src.draw(0.0, &mut out);
        assert_eq!(out, [7, 7, 7], "a frame of the wrong size is not copied");
        slot.write(&[1, 2, 3]);
        src.draw(0.0, &mut out);
        assert_eq!(out, [1, 2, 3]);
    }

    #[test]
    fn chase_interp_clamps_like_numpy() {
        let c = Chase::new(
            vec![0.0, 1.0, 2.0],
            vec![0.0, 1.0, 2.0],
            [1.0; 3],
            [0.0; 3],
            0.0,
            2.0,
            false,
            true,
            4,
            1,
        );
        assert_eq!(c.interp(-1.0), 0.0);
        assert_eq!(c.interp(0.5), 0.5);
        assert_eq!(c.interp(2.0), 2.0);
        assert_eq!(c.interp(9.0), 2.0);
    }
}
