//! The render thread: draws the [`Scene`] for each deadline of the [`FrameClock`] and
//! publishes it, without Python. Python talks to it only through the inbox (a new plan,
//! stacks added or dropped, live masters and inputs), taken at the start of each frame; the
//! thread never waits for Python, so a busy or blocked interpreter cannot make a frame late.
//!
//! Schedule (as the Python producer it replaces): render for the first deadline at least
//! `margin` ahead, then sleep until half a period after that deadline. A `poke` (a command
//! changed the plan) wakes it early and it renders for the soonest deadline a render still
//! fits before, so a GO reaches the wire within about a period.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use super::scene::{InputPatch, Plan, Scene, Stack, StageTimes};
use crate::clock::FrameClock;
use crate::histogram::Histogram;
use crate::timebase::{monotonic_ns, request_realtime, thread_cpu_ns};

const THREAD_NAME: &str = "trocadero-render";
/// Render-time samples kept for percentiles (as `frames.WINDOW`).
pub const WINDOW: usize = 1024;
/// An urgent render never aims at a deadline closer than this.
const URGENT_MIN_NS: u64 = 300_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Changes from Python, applied by the thread at the start of its next frame.
#[derive(Debug, Default)]
struct Inbox {
    plan: Option<Plan>,
    /// Plans handed over so far: the number of the one in `plan`.
    plans_set: u64,
    add: Vec<(u32, Stack)>,
    remove: Vec<u32>,
    masters: Option<(u16, Vec<u16>)>,
    inputs: Option<Vec<InputPatch>>,
}

/// Why deadlines went without a fresh frame (`frames.LateRenders`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Late {
    /// The thread woke too late to render for them.
    pub started_late: u64,
    /// The render ran past its deadline on CPU.
    pub too_slow: u64,
    /// It ran past its deadline mostly not running (preempted).
    pub waited: u64,
}

#[derive(Debug, Clone)]
pub struct RenderStats {
    pub frames_rendered: u64,
    pub late: Late,
    pub last: StageTimes,
    pub last_frame_time: f64,
    pub realtime: Option<Result<bool, String>>,
    pub running: bool,
    /// Per frame, last [`WINDOW`]: total render ns, wake delay, CPU, wall minus CPU.
    totals: Vec<u64>,
    spent: Vec<[u64; 3]>,
    /// The thread ended on a panic (the message).
    pub failed: Option<String>,
}

impl RenderStats {
    fn new() -> Self {
        Self {
            frames_rendered: 0,
            late: Late::default(),
            last: StageTimes::default(),
            last_frame_time: 0.0,
            realtime: None,
            running: false,
            totals: vec![0; WINDOW],
            spent: vec![[0; 3]; WINDOW],
            failed: None,
        }
    }

    /// `self = other` without allocating (both hold WINDOW-sized buffers).
    fn copy_from(&mut self, other: &Self) {
        self.frames_rendered = other.frames_rendered;
        self.late = other.late;
        self.last = other.last;
        self.last_frame_time = other.last_frame_time;
        self.realtime.clone_from(&other.realtime);
        self.running = other.running;
        self.totals.copy_from_slice(&other.totals);
        self.spent.copy_from_slice(&other.spent);
        self.failed.clone_from(&other.failed);
    }

    fn window(&self) -> usize {
        (self.frames_rendered as usize).min(WINDOW)
    }

    /// Render time percentile (0..1) over the window, ns.
    pub fn render_ns(&self, q: f64) -> u64 {
        self.render_ns_with(q, &mut Vec::new())
    }

    /// [`Self::render_ns`] sorting in `scratch` (the render thread reuses one).
    fn render_ns_with(&self, q: f64, scratch: &mut Vec<u64>) -> u64 {
        let n = self.window();
        if n == 0 {
            return 0;
        }
        scratch.clear();
        scratch.extend_from_slice(&self.totals[..n]);
        scratch.sort_unstable();
        scratch[((q * (n - 1) as f64).round() as usize).min(n - 1)]
    }

    /// Mean share of the period: waking late, rendering on CPU, waiting while rendering.
    pub fn period_share(&self, period_ns: u64) -> [f64; 3] {
        let n = self.window();
        if n == 0 || period_ns == 0 {
            return [0.0; 3];
        }
        let mut sum = [0u128; 3];
        for s in &self.spent[..n] {
            for k in 0..3 {
                sum[k] += u128::from(s[k]);
            }
        }
        sum.map(|v| v as f64 / n as f64 / period_ns as f64)
    }
}

/// A frame as it went out: (frame time, source vector, universes).
pub type Snapshot = (f64, Vec<u16>, Vec<u8>);

/// The snapshot buffers, allocated once and overwritten in place by the render thread.
#[derive(Debug, Default)]
struct SnapBuf {
    time: f64,
    source: Vec<u16>,
    frame: Vec<u8>,
    fresh: bool,
}

struct Shared {
    scene: Mutex<Scene>,
    inbox: Mutex<Inbox>,
    poked: Mutex<bool>,
    wake: Condvar,
    stop: AtomicBool,
    stats: Mutex<RenderStats>,
    /// Every frame's render time (ns), for /metrics: lock-free, never reset.
    render_time: Histogram,
    /// The last frame's source vector and universes, copied when Python asks (previews).
    snapshot: Mutex<SnapBuf>,
    snapshot_wanted: AtomicBool,
    /// The newest plan drawn (its number from `set_plan`) and the index of the first
    /// deadline drawn with it: which frame carried a command to the wire (tracing). The
    /// index is stored first, so a reader that sees a number sees its index or a later one.
    drawn_plan: AtomicU64,
    drawn_plan_index: AtomicU64,
}

/// The render thread and its scene; see the module docs.
pub struct RenderThread {
    shared: Arc<Shared>,
    /// The scene's layout and frame size (fixed): checked against without its lock.
    layout: Vec<super::scene::CanvasLayout>,
    frame_bytes: usize,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for RenderThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderThread").finish_non_exhaustive()
    }
}

impl RenderThread {
    pub fn new(scene: Scene) -> Self {
        Self {
            layout: scene.layouts().to_vec(),
            frame_bytes: scene.frame_bytes(),
            shared: Arc::new(Shared {
                scene: Mutex::new(scene),
                inbox: Mutex::new(Inbox::default()),
                poked: Mutex::new(false),
                wake: Condvar::new(),
                stop: AtomicBool::new(false),
                stats: Mutex::new(RenderStats::new()),
                render_time: Histogram::new(),
                snapshot: Mutex::new(SnapBuf::default()),
                snapshot_wanted: AtomicBool::new(false),
                drawn_plan: AtomicU64::new(0),
                drawn_plan_index: AtomicU64::new(0),
            }),
            thread: Mutex::new(None),
        }
    }

    /// Hand over a plan, taken at the next frame; returns its number (1, 2, …), which
    /// [`Self::drawn_plan`] reports once a frame was drawn with it.
    pub fn set_plan(&self, plan: Plan) -> Result<u64, String> {
        plan.check(self.layout.len())?;
        let mut inbox = lock(&self.shared.inbox);
        inbox.plans_set += 1;
        inbox.plan = Some(plan);
        Ok(inbox.plans_set)
    }

    /// (number of the newest plan drawn, index of the first deadline drawn with it); (0, 0)
    /// before the thread drew any handed-over plan.
    pub fn drawn_plan(&self) -> (u64, u64) {
        let number = self.shared.drawn_plan.load(Ordering::Acquire);
        (number, self.shared.drawn_plan_index.load(Ordering::Acquire))
    }

    pub fn add_stack(&self, id: u32, stack: Stack) -> Result<(), String> {
        stack.check(&self.layout)?;
        let mut inbox = lock(&self.shared.inbox);
        inbox.remove.retain(|&r| r != id);
        inbox.add.push((id, stack));
        Ok(())
    }

    pub fn remove_stack(&self, id: u32) {
        let mut inbox = lock(&self.shared.inbox);
        inbox.add.retain(|(a, _)| *a != id);
        inbox.remove.push(id);
    }

    /// Live masters (a console's master channels): grand and one per canvas.
    pub fn set_masters(&self, grand: u16, canvases: Vec<u16>) {
        lock(&self.shared.inbox).masters = Some((grand, canvases));
    }

    pub fn set_inputs(&self, inputs: Vec<InputPatch>) {
        lock(&self.shared.inbox).inputs = Some(inputs);
    }

    /// Apply the inbox (`wait`: even if Python is filling it right now; the render thread
    /// does not wait — it takes the changes at its next frame).
    /// Returns the number of the plan it took, if it took one.
    fn apply_inbox(shared: &Shared, scene: &mut Scene, wait: bool) -> Option<u64> {
        let mut inbox = match shared.inbox.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) if wait => lock(&shared.inbox),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        for id in inbox.remove.drain(..) {
            scene.stacks.remove(&id);
        }
        for (id, stack) in inbox.add.drain(..) {
            scene.stacks.insert(id, stack);
        }
        let mut taken = None;
        if let Some(plan) = inbox.plan.take() {
            scene.plan = plan;
            taken = Some(inbox.plans_set);
        }
        if let Some((grand, masters)) = inbox.masters.take() {
            scene.plan.grand = grand;
            for (c, m) in scene.plan.canvases.iter_mut().zip(masters) {
                c.master = m;
            }
        }
        if let Some(inputs) = inbox.inputs.take() {
            scene.inputs = inputs;
        }
        taken
    }

    /// Render frame time `t` into `frame` on the calling thread (tests, the emergency frame,
    /// a daemon without the thread). Also returns the source vector.
    pub fn render_once(&self, t: f64, frame: &mut [u8], source: Option<&mut [u16]>) -> StageTimes {
        let mut scene = lock(&self.shared.scene);
        Self::apply_inbox(&self.shared, &mut scene, true);
        let times = scene.render(t, frame);
        if let Some(out) = source {
            if out.len() == scene.source.len() {
                out.copy_from_slice(&scene.source);
            }
        }
        times
    }

    /// Wake the thread now: the plan changed (it renders for the soonest deadline it can).
    pub fn poke(&self) {
        *lock(&self.shared.poked) = true;
        self.shared.wake.notify_one();
    }

    pub fn frame_bytes(&self) -> usize {
        self.frame_bytes
    }

    pub fn stats(&self) -> RenderStats {
        lock(&self.shared.stats).clone()
    }

    /// The render time histogram as cumulative counts at `bounds_ns` (see
    /// [`Histogram::cumulative`]): (counts, total, estimated sum in ns).
    pub fn render_cumulative(&self, bounds_ns: &[u64]) -> (Vec<u64>, u64, u64) {
        self.shared.render_time.cumulative(bounds_ns)
    }

    /// The newest frame's (frame time, source vector, universes) taken since the last call,
    /// and ask for the next one.
    pub fn take_snapshot(&self) -> Option<Snapshot> {
        self.shared.snapshot_wanted.store(true, Ordering::Release);
        let mut snap = lock(&self.shared.snapshot);
        if !snap.fresh {
            return None;
        }
        snap.fresh = false;
        Some((snap.time, snap.source.clone(), snap.frame.clone()))
    }

    pub fn is_running(&self) -> bool {
        lock(&self.thread).is_some() && lock(&self.shared.stats).running
    }

    /// Start drawing for `clock` (started) at SCHED_FIFO `priority` when > 0 and allowed.
    pub fn start(&self, clock: Arc<FrameClock>, priority: i32) -> Result<(), String> {
        let mut thread = lock(&self.thread);
        if thread.is_some() {
            return Err("the render thread is already running".into());
        }
        let epoch = clock
            .epoch_ns()
            .ok_or("the frame clock must be started before the render thread")?;
        if self.frame_bytes != clock.frame_bytes() {
            return Err("the scene's frame size is not the clock's".into());
        }
        self.shared.stop.store(false, Ordering::Release);
        lock(&self.shared.stats).running = true;
        let shared = Arc::clone(&self.shared);
        let handle = std::thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || {
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    render_loop(&shared, &clock, epoch, priority);
                }));
                let mut stats = lock(&shared.stats);
                stats.running = false;
                if let Err(panic) = run {
                    let text = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "panic".to_owned());
                    stats.failed = Some(text);
                }
            })
            .map_err(|e| format!("could not start the render thread: {e}"))?;
        *thread = Some(handle);
        Ok(())
    }

    /// Stop the thread and wait for it (within a frame).
    pub fn stop(&self) {
        let mut thread = lock(&self.thread);
        if let Some(handle) = thread.take() {
            self.shared.stop.store(true, Ordering::Release);
            self.poke();
            let _ = handle.join();
        }
    }
}

impl Drop for RenderThread {
    fn drop(&mut self) {
        self.stop();
    }
}

fn render_loop(shared: &Shared, clock: &FrameClock, epoch: u64, priority: i32) {
    // The figures are kept here and copied out when the lock is free: the thread never waits
    // for a Python caller of stats() (nor for anything else Python holds).
    let mut s = lock(&shared.stats).clone();
    s.realtime = Some(request_realtime(priority));
    s.running = true;
    lock(&shared.stats).copy_from(&s);
    let mut sorted = Vec::with_capacity(WINDOW);
    let period = clock.period_ns();
    let margin = period / 4;
    let mut urgent_lead = margin;
    let mut last_index: Option<u64> = None;
    let mut planned_wake: Option<u64> = None;
    let mut urgent = false;
    while !shared.stop.load(Ordering::Acquire) {
        let woke = monotonic_ns();
        let cpu0 = thread_cpu_ns();
        let lead = if urgent { urgent_lead } else { margin };
        let Some((index, deadline)) = clock.deadline_after(woke + lead) else {
            return;
        };
        let frame_time = (deadline - epoch) as f64 / 1e9;
        let (times, taken) = {
            let mut scene = lock(&shared.scene); // only render_once (no thread) also takes it
            let taken = RenderThread::apply_inbox(shared, &mut scene, false);
            let scene = &mut *scene;
            let mut times = StageTimes::default();
            // Previews ask ~10 times a second, Open DMX every frame: the frame is copied as
            // it goes out into buffers allocated once, unless Python is reading them now.
            let wanted = shared.snapshot_wanted.load(Ordering::Acquire);
            let mut snap = if wanted {
                shared.snapshot.try_lock().ok()
            } else {
                None
            };
            clock.publish_with(|frame| {
                times = scene.render(frame_time, frame);
                if let Some(buf) = snap.as_deref_mut() {
                    buf.frame.clear();
                    buf.frame.extend_from_slice(frame);
                }
            });
            if let Some(mut buf) = snap {
                buf.source.clear();
                buf.source.extend_from_slice(&scene.source);
                buf.time = frame_time;
                buf.fresh = true;
                shared.snapshot_wanted.store(false, Ordering::Release);
            }
            (times, taken)
        };
        let published = monotonic_ns();
        if let Some(number) = taken {
            shared.drawn_plan_index.store(index, Ordering::Release);
            shared.drawn_plan.store(number, Ordering::Release);
        }
        let cpu = thread_cpu_ns() - cpu0;
        let k = (s.frames_rendered as usize) % WINDOW;
        s.totals[k] = times.total();
        shared.render_time.record(times.total());
        let wake_delay = planned_wake.map_or(0, |p| woke.saturating_sub(p));
        s.spent[k] = [wake_delay, cpu, (published - woke).saturating_sub(cpu)];
        s.frames_rendered += 1;
        s.last = times;
        s.last_frame_time = frame_time;
        if published > deadline {
            if (published - woke).saturating_sub(cpu) > cpu {
                s.late.waited += 1;
            } else {
                s.late.too_slow += 1;
            }
        }
        if let Some(last) = last_index {
            if index > last + 1 {
                s.late.started_late += index - last - 1;
            }
        }
        if s.frames_rendered % 64 == 0 {
            let p99 = s.render_ns_with(0.99, &mut sorted);
            urgent_lead = (p99 * 5 / 4 + 150_000).clamp(URGENT_MIN_NS, margin.max(URGENT_MIN_NS));
        }
        if let Ok(mut out) = shared.stats.try_lock() {
            out.copy_from(&s); // same-sized buffers: no allocation
        }
        last_index = Some(last_index.map_or(index, |l| l.max(index)));
        let wake_at = deadline + period / 2;
        planned_wake = Some(wake_at);
        urgent = wait_until(shared, wake_at);
        if urgent {
            planned_wake = None;
        }
    }
    lock(&shared.stats).copy_from(&s);
}

/// Sleep until `wake_at` (CLOCK_MONOTONIC ns) or a poke; true if poked.
fn wait_until(shared: &Shared, wake_at: u64) -> bool {
    let mut poked = lock(&shared.poked);
    loop {
        if *poked {
            *poked = false;
            return true;
        }
        if shared.stop.load(Ordering::Acquire) {
            return false;
        }
        let now = monotonic_ns();
        if now >= wake_at {
            return false;
        }
        let (guard, _) = shared
            .wake
            .wait_timeout(poked, std::time::Duration::from_nanos(wake_at - now))
            .unwrap_or_else(PoisonError::into_inner);
        poked = guard;
    }
}
