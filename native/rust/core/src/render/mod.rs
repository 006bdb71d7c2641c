//! The native render plan (issue 14): looks, stacks, fades and masters drawn by a thread of
//! its own that never needs the GIL. Python builds the [`Scene`] (layout, gather tables, a
//! [`Stack`] per built look, sources as precomputed tables) and swaps in a [`Plan`] whenever
//! something changes; `playout/render/renderer.py` stays the reference it is tested against.

pub mod kernels;
pub mod scene;
pub mod sources;
pub mod thread;

pub use scene::{
    CanvasLayout, CanvasPlan, Curve, Gather, InputPatch, Layer, Node, Plan, Scene, Stack,
    StageTimes, Timing, Weights,
};
pub use sources::{Chase, Noise, Plasma, Shift, Slot, Source};
pub use thread::{RenderStats, RenderThread};
