//! The scene the render thread draws: the canvases' layout in the source vector, every built
//! look stack (layers with their sources and buffers), and the plan (per canvas a small tree
//! of looks, colours, fades and HTP merges) Python swaps in when something changes.
//!
//! Fades carry their timing, not their weights, so a plan stays exact until the next
//! discrete event (a GO, a follow, a TTL, a park, a master): the weights are computed here
//! from the frame time with the same curves and rounding as `core/playback` (the reference).

use std::collections::HashMap;

use super::kernels::{self, BlendMode, FULL};
use super::sources::Source;
use crate::timebase::monotonic_ns;

pub const UNIVERSE_BYTES: usize = 512;

/// Where one canvas lives in the source vector.
#[derive(Debug, Clone, Copy)]
pub struct CanvasLayout {
    pub width: usize,
    pub height: usize,
    pub rgb: usize,
    pub rgbw: Option<usize>,
    pub intensity: Option<usize>,
}

impl CanvasLayout {
    pub fn values(&self) -> usize {
        self.width * self.height * 3
    }
}

/// The compiled patch's gather tables (`core.patch.CompiledPatch`).
#[derive(Debug, Clone, Default)]
pub struct Gather {
    pub src_index: Vec<i32>,
    pub lut_id: Vec<u8>,
    pub luts: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    Linear,
    SCurve,
    EaseIn,
    EaseOut,
    Snap,
}

impl Curve {
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "linear" => Self::Linear,
            "s-curve" => Self::SCurve,
            "ease-in" => Self::EaseIn,
            "ease-out" => Self::EaseOut,
            "snap" => Self::Snap,
            _ => return None,
        })
    }

    fn apply(self, x: f64) -> f64 {
        match self {
            Self::Linear | Self::Snap => x,
            Self::SCurve => x * x * (3.0 - 2.0 * x),
            Self::EaseIn => x * x,
            Self::EaseOut => 1.0 - (1.0 - x) * (1.0 - x),
        }
    }

    /// `curves.progress`: the mix weight `elapsed` s after the change.
    fn progress(self, elapsed: f64, delay: f64, duration: f64) -> f64 {
        let since = elapsed - delay;
        if since < 0.0 {
            return 0.0;
        }
        if self == Self::Snap || duration <= 0.0 || since >= duration {
            return 1.0;
        }
        self.apply(since / duration)
    }
}

/// A lane's fade as `core.playback.track` holds it: started at `start` on a track clock that
/// reads `(paused_at or t) - offset`.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub offset: f64,
    pub start: f64,
    pub paused_at: Option<f64>,
    pub delay: f64,
    pub up: f64,
    pub down: f64,
    pub curve: Curve,
}

/// `plan.level16`: Python's round() (half to even), clamped.
fn level16(weight: f64) -> u16 {
    (weight * f64::from(FULL))
        .round_ties_even()
        .clamp(0.0, f64::from(FULL)) as u16
}

impl Timing {
    pub fn levels(&self, t: f64) -> (u16, u16) {
        let elapsed = (self.paused_at.unwrap_or(t) - self.offset) - self.start;
        (
            level16(self.curve.progress(elapsed, self.delay, self.up)),
            level16(self.curve.progress(elapsed, self.delay, self.down)),
        )
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Weights {
    Fixed { up: u16, down: u16 },
    Timed(Timing),
}

impl Weights {
    fn at(&self, t: f64) -> (u16, u16) {
        match self {
            Self::Fixed { up, down } => (*up, *down),
            Self::Timed(timing) => timing.levels(t),
        }
    }
}

/// A plan node; `a`, `b` index earlier nodes of the same canvas plan (a DAG).
#[derive(Debug, Clone, Copy)]
pub enum Node {
    Look(u32),
    Solid([u16; 3]),
    Black,
    Hold,
    Fade {
        a: usize,
        b: usize,
        weights: Weights,
    },
    Htp {
        a: usize,
        b: usize,
    },
}

#[derive(Debug, Clone)]
pub struct CanvasPlan {
    pub nodes: Vec<Node>,
    pub root: usize,
    pub master: u16,
    /// Shows the emergency look: no master applies.
    pub exempt: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub canvases: Vec<CanvasPlan>,
    pub grand: u16,
}

impl Plan {
    /// Every node refers only to nodes before it and the root exists: no cycles, no reads
    /// outside the plan. Checked when Python hands a plan over, not per frame.
    pub fn check(&self, canvases: usize) -> Result<(), String> {
        if self.canvases.len() != canvases {
            return Err(format!(
                "the plan has {} canvases, the scene {canvases}",
                self.canvases.len()
            ));
        }
        for (ci, c) in self.canvases.iter().enumerate() {
            if c.root >= c.nodes.len() {
                return Err(format!("canvas {ci}: root {} is not a node", c.root));
            }
            for (i, n) in c.nodes.iter().enumerate() {
                if let Node::Fade { a, b, .. } | Node::Htp { a, b } = n {
                    if *a >= i || *b >= i {
                        return Err(format!("canvas {ci}: node {i} refers to a later node"));
                    }
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct Layer {
    pub source: Source,
    pub mode: BlendMode,
    pub opacity: u16,
    pub buffer: Vec<u16>,
}

/// One look's layer stack on one canvas (`renderer.LookStack`), drawn at most once a frame.
#[derive(Debug, Clone)]
pub struct Stack {
    pub canvas: usize,
    pub layers: Vec<Layer>,
    buffer: Vec<u16>,
    drawn: u64,
}

impl Stack {
    pub fn new(canvas: usize, layers: Vec<Layer>, values: usize) -> Self {
        Self {
            canvas,
            layers,
            buffer: vec![0; values],
            drawn: 0,
        }
    }

    fn draw(&mut self, t: f64, frame: u64) {
        if self.drawn == frame {
            return;
        }
        self.drawn = frame;
        for layer in &mut self.layers {
            layer.source.draw(t, &mut layer.buffer);
        }
        let out = &mut self.buffer;
        let Some(bottom) = self.layers.first() else {
            out.fill(0);
            return;
        };
        // Onto black these modes all yield the layer itself: a copy, not a blend.
        if matches!(
            bottom.mode,
            BlendMode::Normal | BlendMode::Add | BlendMode::Screen | BlendMode::Max
        ) && bottom.opacity == FULL
        {
            out.copy_from_slice(&bottom.buffer);
        } else {
            out.fill(0);
            kernels::blend(out, &bottom.buffer, bottom.mode, bottom.opacity);
        }
        for layer in &self.layers[1..] {
            kernels::blend(out, &layer.buffer, layer.mode, layer.opacity);
        }
    }
}

/// A live input universe laid over the rendered frame (`frames.InputOverlay`).
#[derive(Debug, Clone)]
pub struct InputPatch {
    pub offset: usize,
    pub takeover: bool,
    pub slots: Box<[u8; UNIVERSE_BYTES]>,
}

/// Nanoseconds spent in each stage of the last frame (`renderer.StageTimes`).
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimes {
    pub sources: u64,
    pub composite: u64,
    pub masters: u64,
    pub planes: u64,
    pub gather: u64,
}

impl StageTimes {
    pub fn total(&self) -> u64 {
        self.sources + self.composite + self.masters + self.planes + self.gather
    }
}

/// `src[a..a + na]` to read and `src[b..b + nb]` to write (the ranges do not overlap).
fn disjoint(src: &mut [u16], a: usize, na: usize, b: usize, nb: usize) -> (&[u16], &mut [u16]) {
    if a + na <= b {
        let (x, y) = src.split_at_mut(b);
        (&x[a..a + na], &mut y[..nb])
    } else {
        let (x, y) = src.split_at_mut(a);
        (&y[..na], &mut x[b..b + nb])
    }
}

#[derive(Debug, Clone, Copy)]
enum Buf {
    Stack(u32),
    Scratch(usize),
    Black,
    Hold,
}

#[derive(Debug)]
pub struct Scene {
    layout: Vec<CanvasLayout>,
    gather: Gather,
    pub source: Vec<u16>,
    pub stacks: HashMap<u32, Stack>,
    pub plan: Plan,
    pub inputs: Vec<InputPatch>,
    last: Vec<Vec<u16>>,
    black: Vec<Vec<u16>>,
    scratch: Vec<Vec<Vec<u16>>>,
    frame: u64,
    /// Each node's result this frame (kept between frames: no allocation per frame).
    memo: Vec<Option<Buf>>,
    pub times: StageTimes,
}

impl Scene {
    pub fn new(
        layout: Vec<CanvasLayout>,
        source_length: usize,
        gather: Gather,
    ) -> Result<Self, String> {
        for (i, c) in layout.iter().enumerate() {
            let n = c.width * c.height;
            let fits = |off: usize, per: usize| off + per * n <= source_length;
            let apart = |off: usize, per: usize| off + per * n <= c.rgb || c.rgb + 3 * n <= off;
            if c.rgbw.is_some_and(|o| !apart(o, 4)) || c.intensity.is_some_and(|o| !apart(o, 1)) {
                return Err(format!("canvas {i}: a plane overlaps its RGB values"));
            }
            if !fits(c.rgb, 3)
                || c.rgbw.is_some_and(|o| !fits(o, 4))
                || c.intensity.is_some_and(|o| !fits(o, 1))
            {
                return Err(format!("canvas {i} lies outside the source vector"));
            }
        }
        if gather.src_index.len() != gather.lut_id.len() {
            return Err("src_index and lut_id differ in length".into());
        }
        if gather.luts.len() % 65536 != 0 {
            return Err("luts must hold whole 65536-entry tables".into());
        }
        let n_luts = gather.luts.len() / 65536;
        if let Some(i) = gather
            .src_index
            .iter()
            .zip(&gather.lut_id)
            .position(|(&k, &table)| {
                usize::try_from(k).is_ok_and(|k| k >= source_length) || usize::from(table) >= n_luts
            })
        {
            return Err(format!(
                "gather slot {i} reads outside the source or the tables"
            ));
        }
        let plan = Plan {
            canvases: (0..layout.len())
                .map(|_| CanvasPlan {
                    nodes: vec![Node::Black],
                    root: 0,
                    master: FULL,
                    exempt: false,
                })
                .collect(),
            grand: FULL,
        };
        Ok(Self {
            last: layout.iter().map(|c| vec![0; c.values()]).collect(),
            black: layout.iter().map(|c| vec![0; c.values()]).collect(),
            scratch: layout.iter().map(|_| Vec::new()).collect(),
            layout,
            gather,
            source: vec![0; source_length],
            stacks: HashMap::new(),
            plan,
            inputs: Vec::new(),
            frame: 0,
            memo: Vec::new(),
            times: StageTimes::default(),
        })
    }

    pub fn canvases(&self) -> usize {
        self.layout.len()
    }

    pub fn frame_bytes(&self) -> usize {
        self.gather.src_index.len()
    }

    pub fn layout(&self, canvas: usize) -> Option<&CanvasLayout> {
        self.layout.get(canvas)
    }

    pub fn layouts(&self) -> &[CanvasLayout] {
        &self.layout
    }
}

impl Stack {
    /// Every layer buffer must be the size of the stack's canvas in `layout`.
    pub fn check(&self, layout: &[CanvasLayout]) -> Result<(), String> {
        let stack = self;
        let c = layout
            .get(stack.canvas)
            .ok_or_else(|| format!("no canvas {}", stack.canvas))?;
        for (i, layer) in stack.layers.iter().enumerate() {
            if layer.buffer.len() != c.values() {
                return Err(format!(
                    "layer {i} has {} values, the canvas {}",
                    layer.buffer.len(),
                    c.values()
                ));
            }
        }
        Ok(())
    }
}

impl Scene {
    fn buf(&self, canvas: usize, b: Buf) -> &[u16] {
        match b {
            Buf::Stack(id) => &self.stacks[&id].buffer,
            Buf::Scratch(k) => &self.scratch[canvas][k],
            Buf::Black => &self.black[canvas],
            Buf::Hold => &self.last[canvas],
        }
    }

    fn take_scratch(&mut self, canvas: usize, used: &mut usize) -> (usize, Vec<u16>) {
        let k = *used;
        *used += 1;
        let pool = &mut self.scratch[canvas];
        while pool.len() <= k {
            pool.push(vec![0; self.layout[canvas].values()]);
        }
        (k, std::mem::take(&mut pool[k]))
    }

    fn eval(
        &mut self,
        canvas: usize,
        node: usize,
        t: f64,
        memo: &mut [Option<Buf>],
        used: &mut usize,
        drawing: &mut u64,
    ) -> Buf {
        if let Some(b) = memo[node] {
            return b;
        }
        let out = match self.plan.canvases[canvas].nodes[node] {
            Node::Look(id) => match self.stacks.get_mut(&id) {
                Some(stack) if stack.canvas == canvas => {
                    let d0 = monotonic_ns();
                    stack.draw(t, self.frame);
                    *drawing += monotonic_ns() - d0;
                    Buf::Stack(id)
                }
                _ => Buf::Black,
            },
            Node::Black => Buf::Black,
            Node::Hold => Buf::Hold,
            Node::Solid(rgb) => {
                let (k, mut out) = self.take_scratch(canvas, used);
                kernels::fill_rgb(&mut out, rgb);
                self.scratch[canvas][k] = out;
                Buf::Scratch(k)
            }
            Node::Fade { a, b, weights } => {
                let (up, down) = weights.at(t);
                // At its ends a fade is one of its sides (as `plan.fade` simplifies): the other
                // is not drawn.
                if up == FULL && down == FULL {
                    self.eval(canvas, b, t, memo, used, drawing)
                } else if up == 0 && down == 0 {
                    self.eval(canvas, a, t, memo, used, drawing)
                } else {
                    let ba = self.eval(canvas, a, t, memo, used, drawing);
                    let bb = self.eval(canvas, b, t, memo, used, drawing);
                    let (k, mut out) = self.take_scratch(canvas, used);
                    kernels::crossfade_split(
                        &mut out,
                        self.buf(canvas, ba),
                        self.buf(canvas, bb),
                        up,
                        down,
                    );
                    self.scratch[canvas][k] = out;
                    Buf::Scratch(k)
                }
            }
            Node::Htp { a, b } => {
                let ba = self.eval(canvas, a, t, memo, used, drawing);
                let bb = self.eval(canvas, b, t, memo, used, drawing);
                let (k, mut out) = self.take_scratch(canvas, used);
                kernels::htp(&mut out, self.buf(canvas, ba), self.buf(canvas, bb));
                self.scratch[canvas][k] = out;
                Buf::Scratch(k)
            }
        };
        memo[node] = Some(out);
        out
    }

    /// Render frame time `t` into `frame` (the universes, `frame_bytes()` long).
    pub fn render(&mut self, t: f64, frame: &mut [u8]) -> StageTimes {
        let mut times = StageTimes::default();
        self.frame += 1;
        let t0 = monotonic_ns();
        let mut drawing = 0;
        for ci in 0..self.layout.len() {
            let (root, n) = {
                let p = &self.plan.canvases[ci];
                (p.root, p.nodes.len())
            };
            let mut memo = std::mem::take(&mut self.memo);
            memo.clear();
            memo.resize(n, None); // reused: no allocation per frame once it has grown
            let mut used = 0;
            let b = self.eval(ci, root, t, &mut memo, &mut used, &mut drawing);
            self.memo = memo;
            let c = self.layout[ci];
            let mut rgb = std::mem::take(&mut self.source);
            rgb[c.rgb..c.rgb + c.values()].copy_from_slice(self.buf(ci, b));
            self.last[ci].copy_from_slice(&rgb[c.rgb..c.rgb + c.values()]);
            self.source = rgb;
        }
        let t1 = monotonic_ns();
        times.sources = drawing;
        times.composite = (t1 - t0).saturating_sub(drawing);
        let grand = self.plan.grand;
        for (c, p) in self.layout.iter().zip(&self.plan.canvases) {
            if !p.exempt {
                let level = kernels::combine_levels(grand, p.master);
                kernels::scale(&mut self.source[c.rgb..c.rgb + c.values()], level);
            }
        }
        let t2 = monotonic_ns();
        for c in &self.layout {
            let n = c.width * c.height;
            if let Some(o) = c.rgbw {
                let (rgb, plane) = disjoint(&mut self.source, c.rgb, 3 * n, o, 4 * n);
                kernels::rgb_to_rgbw(plane, rgb);
            }
            if let Some(o) = c.intensity {
                let (rgb, plane) = disjoint(&mut self.source, c.rgb, 3 * n, o, n);
                kernels::intensity(plane, rgb);
            }
        }
        let t3 = monotonic_ns();
        let g = &self.gather;
        kernels::lut_gather_u8(frame, &self.source, &g.src_index, &g.lut_id, &g.luts);
        for input in &self.inputs {
            if let Some(target) = frame.get_mut(input.offset..input.offset + UNIVERSE_BYTES) {
                if input.takeover {
                    target.copy_from_slice(&input.slots[..]);
                } else {
                    target
                        .iter_mut()
                        .zip(input.slots.iter())
                        .for_each(|(d, &s)| *d = (*d).max(s));
                }
            }
        }
        let t4 = monotonic_ns();
        times.masters = t2 - t1;
        times.planes = t3 - t2;
        times.gather = t4 - t3;
        self.times = times;
        times
    }
}
