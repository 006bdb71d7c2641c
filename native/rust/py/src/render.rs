//! Binding of `trocadero_core::render`: the scene, its sources and plans built from Python
//! (`playout/render/native.py`), and the render thread that draws it without the GIL.
//!
//! Arrays cross as `bytes` in native byte order (numpy's `tobytes()`): the tables are made
//! once per look, so a copy costs nothing that matters and keeps this layer free of
//! buffer-lifetime rules.

use std::sync::Arc;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use trocadero_core::render::kernels::{BlendMode, FULL};
use trocadero_core::render::scene::UNIVERSE_BYTES;
use trocadero_core::render::{
    CanvasLayout, CanvasPlan, Chase, Curve, Gather, InputPatch, Layer, Node, Noise, Plan, Plasma,
    RenderThread, Scene, Shift, Slot, Source, Stack, Timing, Weights,
};

fn bad(text: impl Into<String>) -> PyErr {
    PyValueError::new_err(text.into())
}

fn values<const N: usize, T>(bytes: &[u8], what: &str, from: fn([u8; N]) -> T) -> PyResult<Vec<T>> {
    if bytes.len() % N != 0 {
        return Err(bad(format!(
            "{what}: {} bytes is not a whole number of values",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(N)
        .map(|c| from(c.try_into().expect("chunks_exact")))
        .collect())
}

fn u16s(b: &[u8], what: &str) -> PyResult<Vec<u16>> {
    values(b, what, u16::from_ne_bytes)
}
fn f32s(b: &[u8], what: &str) -> PyResult<Vec<f32>> {
    values(b, what, f32::from_ne_bytes)
}
fn f64s(b: &[u8], what: &str) -> PyResult<Vec<f64>> {
    values(b, what, f64::from_ne_bytes)
}

fn palette(b: &[u8]) -> PyResult<Vec<u16>> {
    let lut = u16s(b, "palette")?;
    if lut.is_empty() || lut.len() % 4 != 0 {
        return Err(bad("palette must be an (m, 4) uint16 table with m >= 1"));
    }
    Ok(lut)
}

fn sized<T>(v: Vec<T>, n: usize, what: &str) -> PyResult<Vec<T>> {
    if v.len() == n {
        Ok(v)
    } else {
        Err(bad(format!("{what} has {} values, expected {n}", v.len())))
    }
}

/// Frames handed to the render thread by Python (video, live feeds, animated sources with no
/// native port). The newest write wins; the thread never waits for one.
#[pyclass(frozen, module = "trocadero_rt")]
pub struct RenderSlot {
    inner: Arc<Slot>,
}

#[pymethods]
impl RenderSlot {
    #[new]
    fn new() -> Self {
        Self {
            inner: Arc::new(Slot::default()),
        }
    }

    /// Hand over a frame: (h, w, 3) uint16 values as bytes.
    fn write(&self, py: Python<'_>, frame: &Bound<'_, PyBytes>) -> PyResult<()> {
        let values = u16s(frame.as_bytes(), "frame")?;
        py.detach(|| self.inner.write(&values));
        Ok(())
    }

    #[getter]
    fn writes(&self) -> u64 {
        self.inner.writes()
    }
}

fn source(spec: &Bound<'_, PyTuple>, c: &CanvasLayout) -> PyResult<Source> {
    let kind: String = spec.get_item(0)?.extract()?;
    let n = c.width * c.height;
    let bytes = |i: usize| -> PyResult<Vec<u8>> { spec.get_item(i)?.extract::<Vec<u8>>() };
    Ok(match kind.as_str() {
        "static" => Source::Static,
        "slot" => {
            let slot = spec.get_item(1)?;
            let slot = slot.cast::<RenderSlot>()?;
            Source::Slot {
                slot: Arc::clone(&slot.get().inner),
                seen: 0,
            }
        }
        "shift" => {
            let lut = palette(&bytes(2)?)?;
            let m = lut.len() / 4;
            if !m.is_power_of_two() {
                return Err(bad("shift: the palette length must be a power of two"));
            }
            Source::Shift(Shift {
                pos: sized(f32s(&bytes(1)?, "pos")?, n, "pos")?,
                lut,
                mask: (m - 1) as i32,
                speed: spec.get_item(3)?.extract()?,
                span: spec.get_item(4)?.extract()?,
                cycle: spec.get_item(5)?.extract()?,
            })
        }
        "chase" => {
            let grid = f64s(&bytes(1)?, "grid")?;
            let table = sized(f64s(&bytes(2)?, "table")?, grid.len(), "table")?;
            if grid.len() < 2 {
                return Err(bad("chase: the profile needs at least two grid points"));
            }
            Source::Chase(Chase::new(
                grid,
                table,
                spec.get_item(3)?.extract()?,
                spec.get_item(4)?.extract()?,
                spec.get_item(5)?.extract()?,
                spec.get_item(6)?.extract()?,
                spec.get_item(7)?.extract()?,
                spec.get_item(8)?.extract()?,
                c.width,
                c.height,
            ))
        }
        "noise" => {
            let ix: Vec<i64> = values(&bytes(1)?, "ix", i64::from_ne_bytes)?;
            let ix = sized(ix, c.width, "ix")?;
            let lat_w: usize = spec.get_item(5)?.extract()?;
            let lat_h: usize = spec.get_item(6)?.extract()?;
            let bands: Vec<(usize, usize, usize)> = spec.get_item(4)?.extract()?;
            if ix.iter().any(|&i| i < 0 || i as usize + 1 >= lat_w)
                || bands
                    .iter()
                    .any(|&(j, y0, y1)| j + 1 >= lat_h || y0 > y1 || y1 > c.height)
            {
                return Err(bad("noise: the lattice does not cover the canvas"));
            }
            Source::Noise(Box::new(Noise::new(
                ix,
                sized(f64s(&bytes(2)?, "fx")?, c.width, "fx")?,
                sized(f32s(&bytes(3)?, "fy")?, c.height, "fy")?,
                bands,
                lat_w,
                lat_h,
                spec.get_item(7)?.extract()?,
                spec.get_item(8)?.extract()?,
                palette(&bytes(9)?)?,
                c.width,
                c.height,
            )))
        }
        "plasma" => Source::Plasma(Plasma::new(
            sized(f64s(&bytes(1)?, "kx")?, c.width, "kx")?,
            sized(f64s(&bytes(2)?, "ky")?, c.height, "ky")?,
            sized(f64s(&bytes(3)?, "ax")?, c.width, "ax")?,
            sized(f32s(&bytes(4)?, "cb")?, c.height, "cb")?,
            sized(f32s(&bytes(5)?, "sb")?, c.height, "sb")?,
            sized(f32s(&bytes(6)?, "sr")?, n, "sr")?,
            sized(f32s(&bytes(7)?, "cr")?, n, "cr")?,
            spec.get_item(8)?.extract()?,
            spec.get_item(9)?.extract()?,
            palette(&bytes(10)?)?,
        )),
        other => return Err(bad(format!("unknown native source kind {other:?}"))),
    })
}

fn node(t: &Bound<'_, PyTuple>) -> PyResult<Node> {
    let kind: String = t.get_item(0)?.extract()?;
    Ok(match kind.as_str() {
        "look" => Node::Look(t.get_item(1)?.extract()?),
        "solid" => Node::Solid([
            t.get_item(1)?.extract()?,
            t.get_item(2)?.extract()?,
            t.get_item(3)?.extract()?,
        ]),
        "black" => Node::Black,
        "hold" => Node::Hold,
        "htp" => Node::Htp {
            a: t.get_item(1)?.extract()?,
            b: t.get_item(2)?.extract()?,
        },
        "fade" => Node::Fade {
            a: t.get_item(1)?.extract()?,
            b: t.get_item(2)?.extract()?,
            weights: Weights::Fixed {
                up: t.get_item(3)?.extract()?,
                down: t.get_item(4)?.extract()?,
            },
        },
        "timed" => {
            let curve: String = t.get_item(9)?.extract()?;
            Node::Fade {
                a: t.get_item(1)?.extract()?,
                b: t.get_item(2)?.extract()?,
                weights: Weights::Timed(Timing {
                    offset: t.get_item(3)?.extract()?,
                    start: t.get_item(4)?.extract()?,
                    paused_at: t.get_item(5)?.extract()?,
                    delay: t.get_item(6)?.extract()?,
                    up: t.get_item(7)?.extract()?,
                    down: t.get_item(8)?.extract()?,
                    curve: Curve::from_name(&curve)
                        .ok_or_else(|| bad(format!("unknown fade curve {curve:?}")))?,
                }),
            }
        }
        other => return Err(bad(format!("unknown plan node {other:?}"))),
    })
}

/// The native render plan and the thread that draws it (`trocadero_core::render`).
#[pyclass(frozen, module = "trocadero_rt")]
pub struct NativeRenderer {
    inner: RenderThread,
    layout: Vec<CanvasLayout>,
    source_length: usize,
}

type CanvasArgs = (usize, usize, usize, Option<usize>, Option<usize>);

#[pymethods]
impl NativeRenderer {
    /// `canvases`: (width, height, rgb offset, rgbw offset or None, intensity offset or None)
    /// in the source vector; the gather tables as `CompiledPatch` holds them (bytes).
    #[new]
    fn new(
        canvases: Vec<CanvasArgs>,
        source_length: usize,
        src_index: &[u8],
        lut_id: Vec<u8>,
        luts: Vec<u8>,
    ) -> PyResult<Self> {
        let layout: Vec<CanvasLayout> = canvases
            .into_iter()
            .map(|(width, height, rgb, rgbw, intensity)| CanvasLayout {
                width,
                height,
                rgb,
                rgbw,
                intensity,
            })
            .collect();
        let gather = Gather {
            src_index: values(src_index, "src_index", i32::from_ne_bytes)?,
            lut_id,
            luts,
        };
        let scene = Scene::new(layout.clone(), source_length, gather).map_err(bad)?;
        Ok(Self {
            inner: RenderThread::new(scene),
            layout,
            source_length,
        })
    }

    #[getter]
    fn frame_bytes(&self) -> usize {
        self.inner.frame_bytes()
    }

    #[getter]
    fn source_length(&self) -> usize {
        self.source_length
    }

    /// A look's stack on `canvas`: layers of (source spec, blend mode, opacity, initial
    /// buffer bytes); replaces a stack of the same id.
    fn add_stack(
        &self,
        id: u32,
        canvas: usize,
        layers: Vec<(Bound<'_, PyTuple>, u8, u16, Vec<u8>)>,
    ) -> PyResult<()> {
        let c = *self
            .layout
            .get(canvas)
            .ok_or_else(|| bad(format!("no canvas {canvas}")))?;
        let mut built = Vec::with_capacity(layers.len());
        for (i, (spec, mode, opacity, buffer)) in layers.iter().enumerate() {
            let mode = BlendMode::from_u8(*mode)
                .ok_or_else(|| bad(format!("layer {i}: blend mode {mode} is not 0..4")))?;
            let buffer = sized(u16s(buffer, "buffer")?, c.values(), "buffer")?;
            let source = source(spec, &c).map_err(|e| bad(format!("layer {i}: {e}")))?;
            built.push(Layer {
                source,
                mode,
                opacity: *opacity,
                buffer,
            });
        }
        let stack = Stack::new(canvas, built, c.values());
        self.inner.add_stack(id, stack).map_err(bad)
    }

    fn remove_stack(&self, id: u32) {
        self.inner.remove_stack(id);
    }

    /// Per canvas (nodes, root, master, exempt); the grand master. Taken at the next frame.
    /// Returns the plan's number (see `drawn_plan`).
    fn set_plan(
        &self,
        canvases: Vec<(Vec<Bound<'_, PyTuple>>, usize, u16, bool)>,
        grand: u16,
    ) -> PyResult<u64> {
        let mut plans = Vec::with_capacity(canvases.len());
        for (nodes, root, master, exempt) in &canvases {
            plans.push(CanvasPlan {
                nodes: nodes.iter().map(node).collect::<PyResult<_>>()?,
                root: *root,
                master: *master,
                exempt: *exempt,
            });
        }
        self.inner
            .set_plan(Plan {
                canvases: plans,
                grand,
            })
            .map_err(bad)
    }

    /// (number of the newest plan drawn, index of the first deadline drawn with it): the frame
    /// that carries a command's plan to the wire. (0, 0) before any.
    fn drawn_plan(&self) -> (u64, u64) {
        self.inner.drawn_plan()
    }

    /// Live masters from a console: the grand master and one level per canvas.
    fn set_masters(&self, grand: u16, canvases: Vec<u16>) {
        self.inner.set_masters(grand, canvases);
    }

    /// Live input universes laid over the frame: (byte offset, takeover, 512 slots).
    fn set_inputs(&self, inputs: Vec<(usize, bool, Vec<u8>)>) -> PyResult<()> {
        let frame_bytes = self.inner.frame_bytes();
        let mut patches = Vec::with_capacity(inputs.len());
        for (offset, takeover, slots) in inputs {
            let slots: Box<[u8; UNIVERSE_BYTES]> = slots
                .into_boxed_slice()
                .try_into()
                .map_err(|_| bad("an input universe has 512 slots"))?;
            if offset + UNIVERSE_BYTES > frame_bytes {
                return Err(bad(format!("input offset {offset} is outside the frame")));
            }
            patches.push(InputPatch {
                offset,
                takeover,
                slots,
            });
        }
        self.inner.set_inputs(patches);
        Ok(())
    }

    /// Render frame time `t` here (no thread): (universes, source vector, stage ns).
    fn render<'py>(
        &self,
        py: Python<'py>,
        t: f64,
    ) -> (Bound<'py, PyBytes>, Bound<'py, PyBytes>, u64) {
        let mut frame = vec![0u8; self.inner.frame_bytes()];
        let mut source = vec![0u16; self.source_length];
        let times = py.detach(|| self.inner.render_once(t, &mut frame, Some(&mut source)));
        let source: Vec<u8> = source.iter().flat_map(|v| v.to_ne_bytes()).collect();
        (
            PyBytes::new(py, &frame),
            PyBytes::new(py, &source),
            times.total(),
        )
    }

    /// Start drawing for `clock` (already started), SCHED_FIFO at `priority` when > 0.
    #[pyo3(signature = (clock, *, realtime_priority = 0))]
    fn start(&self, clock: &Bound<'_, super::FrameClock>, realtime_priority: i32) -> PyResult<()> {
        let clock = Arc::clone(&clock.get().inner);
        self.inner
            .start(clock, realtime_priority)
            .map_err(PyRuntimeError::new_err)
    }

    fn stop(&self, py: Python<'_>) {
        py.detach(|| self.inner.stop());
    }

    /// A command changed the plan: render for the soonest deadline now.
    fn poke(&self) {
        self.inner.poke();
    }

    #[getter]
    fn running(&self) -> bool {
        self.inner.is_running()
    }

    /// The newest frame as it went out, if one was taken since the last call:
    /// (frame time, source vector bytes, universes bytes). Each call asks for the next.
    fn snapshot<'py>(
        &self,
        py: Python<'py>,
    ) -> Option<(f64, Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
        let (t, source, frame) = self.inner.take_snapshot()?;
        let source: Vec<u8> = source.iter().flat_map(|v| v.to_ne_bytes()).collect();
        Some((t, PyBytes::new(py, &source), PyBytes::new(py, &frame)))
    }

    /// Every frame's render time for /metrics: samples at or below each of `bounds_ns`
    /// (ascending), their count and estimated sum (ns). Without the GIL.
    fn render_histogram(&self, py: Python<'_>, bounds_ns: Vec<u64>) -> (Vec<u64>, u64, u64) {
        py.detach(|| self.inner.render_cumulative(&bounds_ns))
    }

    /// Counters and timings: frames_rendered, late_* by cause, render_ns_p50/p99/max,
    /// stage ns of the last frame, share of the period (wake delay, CPU, waiting), realtime.
    fn stats<'py>(&self, py: Python<'py>, period_ns: u64) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("frames_rendered", s.frames_rendered)?;
        d.set_item("late_started_late", s.late.started_late)?;
        d.set_item("late_too_slow", s.late.too_slow)?;
        d.set_item("late_waited", s.late.waited)?;
        d.set_item("render_ns_p50", s.render_ns(0.5))?;
        d.set_item("render_ns_p99", s.render_ns(0.99))?;
        d.set_item("render_ns_max", s.render_ns(1.0))?;
        let st = s.last;
        d.set_item(
            "stages_ns",
            (st.sources, st.composite, st.masters, st.planes, st.gather),
        )?;
        d.set_item("period_share", s.period_share(period_ns))?;
        d.set_item("last_frame_time", s.last_frame_time)?;
        d.set_item("running", s.running)?;
        let (realtime, realtime_error) = match s.realtime {
            Some(Ok(granted)) => (granted, None),
            Some(Err(e)) => (false, Some(e)),
            None => (false, None),
        };
        d.set_item("realtime", realtime)?;
        d.set_item("realtime_error", realtime_error)?;
        d.set_item("failed", s.failed)?;
        Ok(d)
    }
}

pub fn register(m: &Bound<'_, pyo3::types::PyModule>) -> PyResult<()> {
    m.add_class::<RenderSlot>()?;
    m.add_class::<NativeRenderer>()?;
    m.add("FULL_LEVEL", FULL)?;
    Ok(())
}
