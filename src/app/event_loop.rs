//! The loop of the TUI, generic over the screen (`tui::Screen`: the real terminal,
//! or one in memory for tests and the load benchmark) and over the stream of terminal
//! events, so the code that decides when to draw is the code that is tested and
//! measured.
//!
//! It `select!`s over terminal events, backend updates (drained with `recv_many`),
//! signals and a 1 Hz tick, and draws only when something changed, at most once
//! per frame budget. Time is read from tokio's clock, so tests can pause it.

use std::io;
use std::time::{Duration, Instant, SystemTime};

use crossterm::event::Event;
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

use super::{Exit, Persist, dispatch};
use crate::event::{Action, Update};
use crate::keymap;
use crate::network::NetworkHandle;
use crate::state::AppState;
use crate::tui::Screen;
use crate::ui::Theme;

/// Minimum time between two frames (60 fps).
pub const FRAME_BUDGET: Duration = Duration::from_millis(16);
const TICK: Duration = Duration::from_secs(1);
/// Most updates folded in between two looks at the clock.
const DRAIN: usize = 1024;

/// What comes from outside the terminal (signals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outside {
    /// A terminating signal (its number).
    Signal(i32),
    /// SIGTSTP.
    Suspend,
}

/// Hooks for measuring the loop (the load benchmark); all do nothing by default.
pub trait Observer {
    /// An update is about to be folded into the state.
    fn update(&mut self, _u: &Update) {}
    /// The update seen last has been folded in.
    fn applied(&mut self) {}
    /// A frame was drawn; `took` is the time drawing it took.
    fn drawn(&mut self, _took: Duration, _at: Instant) {}
}

impl Observer for () {}

/// The loop's inputs and its state.
pub struct Loop {
    pub state: AppState,
    pub theme: Theme,
    pub updates: mpsc::Receiver<Update>,
    /// Where commands (reconnect, watch changes) go.
    pub networks: Vec<NetworkHandle>,
    pub persist: Persist,
    /// The end of `--duration`.
    pub stop_at: Option<tokio::time::Instant>,
}

/// What one turn of the loop leads to.
enum Turn {
    Go,
    Redraw,
    Suspend,
    End(Exit),
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl Loop {
    pub fn new(state: AppState, theme: Theme, updates: mpsc::Receiver<Update>) -> Self {
        Self {
            state,
            theme,
            updates,
            networks: Vec::new(),
            persist: None,
            stop_at: None,
        }
    }

    /// Run until quit, a terminating signal, the end of `--duration`, or the
    /// backend (or the terminal's event stream) gone.
    pub async fn run<S, E>(
        &mut self,
        screen: &mut S,
        mut events: E,
        mut outside: mpsc::Receiver<Outside>,
        obs: &mut impl Observer,
    ) -> anyhow::Result<Exit>
    where
        S: Screen,
        E: Stream<Item = io::Result<Event>> + Unpin,
    {
        let mut buf = Vec::with_capacity(DRAIN);
        // The first frame is drawn at once; the tick redraws ages a second later.
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + TICK, TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut dirty = true;
        let mut last_draw: Option<Instant> = None;
        let mut outside_open = true;
        loop {
            let due = last_draw.map_or_else(now, |t| t + FRAME_BUDGET);
            if dirty && now() >= due {
                self.draw(screen, obs)?;
                last_draw = Some(now());
                dirty = false;
            }
            let turn = tokio::select! {
                biased;
                ev = events.next() => self.on_event(ev)?,
                n = self.updates.recv_many(&mut buf, DRAIN) => self.on_updates(n, &mut buf, obs),
                _ = tick.tick() => {
                    self.state.tick(now(), SystemTime::now());
                    Turn::Redraw
                }
                _ = tokio::time::sleep_until(due.into()), if dirty => Turn::Go,
                _ = sleep_until(self.stop_at), if self.stop_at.is_some() => Turn::End(Exit::Quit),
                o = outside.recv(), if outside_open => match o {
                    Some(Outside::Signal(n)) => Turn::End(Exit::Signal(n)),
                    Some(Outside::Suspend) => Turn::Suspend,
                    None => {
                        outside_open = false;
                        Turn::Go
                    }
                },
            };
            match turn {
                Turn::Go => {}
                Turn::Redraw => dirty = true,
                Turn::Suspend => {
                    screen.suspend()?;
                    dirty = true;
                    last_draw = None;
                }
                Turn::End(exit) => return Ok(exit),
            }
            if self.state.should_quit {
                return Ok(Exit::Quit);
            }
        }
    }

    fn draw(&self, screen: &mut impl Screen, obs: &mut impl Observer) -> anyhow::Result<()> {
        let t0 = now();
        screen.draw(&self.state, &self.theme)?;
        let t1 = now();
        obs.drawn(t1.saturating_duration_since(t0), t1);
        Ok(())
    }

    fn on_event(&mut self, ev: Option<io::Result<Event>>) -> anyhow::Result<Turn> {
        Ok(match ev {
            Some(Ok(Event::Key(key))) => match keymap::action_for(key, self.state.editing()) {
                Some(Action::Suspend) => Turn::Suspend,
                Some(action) => self.act(action),
                None => Turn::Go,
            },
            Some(Ok(Event::Mouse(m))) => match keymap::mouse_for(m) {
                Some(action) => self.act(action),
                None => Turn::Go,
            },
            Some(Ok(Event::Resize(..))) => Turn::Redraw,
            Some(Ok(_)) => Turn::Go,
            Some(Err(e)) => return Err(e.into()),
            None => Turn::End(Exit::Quit),
        })
    }

    /// Apply a key's or the mouse's action, and send the command it gives.
    fn act(&mut self, action: Action) -> Turn {
        let cmd = self.state.on_action(action);
        self.send(cmd);
        self.fetch_wanted();
        Turn::Redraw
    }

    /// Send a command; a fetch that could not be asked for is answered at once.
    fn send(&mut self, cmd: Option<(usize, crate::event::Command)>) {
        if let Some((net, cmd)) = cmd
            && let Some(u) = dispatch(net, cmd, &self.networks, &mut self.persist)
        {
            self.state.apply(u, now());
        }
    }

    /// What the open view needs (a receipt for the selected transaction's status).
    fn fetch_wanted(&mut self) {
        let cmd = self.state.fetch_wanted();
        self.send(cmd);
    }

    fn on_updates(&mut self, n: usize, buf: &mut Vec<Update>, obs: &mut impl Observer) -> Turn {
        if n == 0 {
            return Turn::End(Exit::Quit);
        }
        let at = now();
        let mut changed = false;
        for u in buf.drain(..) {
            obs.update(&u);
            changed |= self.state.apply(u, at);
            obs.applied();
        }
        if changed {
            self.fetch_wanted();
        }
        if changed { Turn::Redraw } else { Turn::Go }
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    //! The loop on an in-memory screen with tokio's clock paused: what is drawn, and
    //! how often, for a given stream of updates, keys and signals.

    use alloy_primitives::{B256, U256};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use futures_util::stream;

    use super::*;
    use crate::event::{Head, HeadSource};
    use crate::state::NetworkState;
    use crate::tui::Offscreen;

    fn head(n: u64) -> Head {
        Head {
            number: n,
            hash: B256::from(U256::from(n)),
            parent_hash: B256::from(U256::from(n.saturating_sub(1))),
            timestamp: 1_000 + n,
            gas_used: 1,
            gas_limit: 2,
            base_fee: None,
            tx_count: Some(0),
            source: HeadSource::Ws,
            seen: None,
        }
    }

    type Events = stream::Pending<io::Result<Event>>;

    struct Run {
        lp: Loop,
        tx: mpsc::Sender<Update>,
        outside: mpsc::Sender<Outside>,
        outside_rx: Option<mpsc::Receiver<Outside>>,
        screen: Offscreen,
    }

    fn setup(stop_after: Duration) -> Run {
        let (tx, rx) = mpsc::channel(4096);
        let (outside, outside_rx) = mpsc::channel(4);
        let state = AppState::new(vec![NetworkState::new("a", "ws://x")]);
        let lp = Loop {
            stop_at: Some(tokio::time::Instant::now() + stop_after),
            ..Loop::new(state, Theme::no_color(), rx)
        };
        Run {
            lp,
            tx,
            outside,
            outside_rx: Some(outside_rx),
            screen: Offscreen::new(100, 30),
        }
    }

    impl Run {
        async fn go<E>(&mut self, events: E) -> Exit
        where
            E: Stream<Item = io::Result<Event>> + Unpin,
        {
            let outside = self.outside_rx.take().expect("run once");
            self.lp
                .run(&mut self.screen, events, outside, &mut ())
                .await
                .expect("loop")
        }

        fn screen_text(&self) -> String {
            let buf = self.screen.terminal.backend().buffer();
            buf.content().iter().map(|c| c.symbol()).collect()
        }
    }

    fn no_keys() -> Events {
        stream::pending()
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_folded_into_one_frame() {
        let mut r = setup(Duration::from_millis(500));
        for n in 1..=1000 {
            r.tx.try_send(Update::Head {
                net: 0,
                head: head(n),
            })
            .expect("room");
        }
        assert_eq!(r.go(no_keys()).await, Exit::Quit);
        // The first frame, then one with all 1,000 heads folded in.
        assert_eq!(r.screen.frames, 2);
        assert_eq!(
            r.lp.state.networks[0].latest().map(|h| h.number),
            Some(1000)
        );
        assert!(r.screen_text().contains("1,000"), "{}", r.screen_text());
    }

    /// Five alerts in one burst ring the bell once; a rule whose sinks are not the
    /// dashboard's rings nothing.
    #[tokio::test(start_paused = true)]
    async fn alerts_in_one_frame_ring_the_bell_once() {
        let mut r = setup(Duration::from_millis(500));
        r.lp.state.tui_sinks = vec![("loud".into(), true)];
        let alert = |sink: &str| Update::Alert {
            net: 0,
            alert: Box::new(crate::event::AlertNotice {
                rule: "r".into(),
                kind: "reorg",
                network: "a".into(),
                state: crate::event::AlertState::Fired,
                message: "deep".into(),
                about: crate::event::Subject::Network,
                repeats: 0,
                resolves: false,
                at: SystemTime::UNIX_EPOCH,
                sinks: vec![sink.into()],
            }),
        };
        r.tx.try_send(alert("ops")).expect("room");
        for _ in 0..5 {
            r.tx.try_send(alert("loud")).expect("room");
        }
        assert_eq!(r.go(no_keys()).await, Exit::Quit);
        assert_eq!(r.lp.state.bells, 5);
        assert_eq!(r.screen.bells, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_stream_is_drawn_at_most_once_per_frame_budget() {
        let mut r = setup(Duration::from_millis(500));
        let tx = r.tx.clone();
        tokio::spawn(async move {
            for n in 1..=1000 {
                if tx
                    .send(Update::Head {
                        net: 0,
                        head: head(n),
                    })
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        r.go(no_keys()).await;
        let frames = r.screen.frames;
        // One head a millisecond for half a second: a frame per 16 ms, not per head.
        let most = 500 / FRAME_BUDGET.as_millis() as u64 + 2;
        assert!((10..=most).contains(&frames), "{frames} frames");
    }

    #[tokio::test(start_paused = true)]
    async fn updates_that_change_nothing_draw_nothing() {
        let mut r = setup(Duration::from_millis(900));
        for _ in 0..100 {
            // A network that does not exist: the fold changes nothing.
            r.tx.try_send(Update::Head {
                net: 7,
                head: head(1),
            })
            .expect("room");
        }
        r.go(no_keys()).await;
        assert_eq!(r.screen.frames, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_tick_redraws_ages_once_a_second() {
        let mut r = setup(Duration::from_millis(3500));
        r.go(no_keys()).await;
        // The first frame, then one at 1 s, 2 s and 3 s.
        assert_eq!(r.screen.frames, 4);
    }

    #[tokio::test(start_paused = true)]
    async fn q_quits_before_the_end_of_the_run() {
        let mut r = setup(Duration::from_secs(3600));
        let q = Event::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE));
        let keys = stream::iter([Ok(q)]).chain(stream::pending());
        let t0 = tokio::time::Instant::now();
        assert_eq!(r.go(keys).await, Exit::Quit);
        assert!(t0.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_terminating_signal_ends_the_loop_with_its_number() {
        let mut r = setup(Duration::from_secs(3600));
        r.outside.try_send(Outside::Signal(15)).expect("room");
        assert_eq!(r.go(no_keys()).await, Exit::Signal(15));
    }

    #[tokio::test(start_paused = true)]
    async fn a_suspend_gives_the_screen_back_and_repaints_on_return() {
        let mut r = setup(Duration::from_millis(500));
        r.outside.try_send(Outside::Suspend).expect("room");
        r.go(no_keys()).await;
        assert_eq!(r.screen.suspends, 1);
        // The first frame, and a full one after coming back.
        assert_eq!(r.screen.frames, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_loop_ends_when_the_backend_is_gone() {
        let mut r = setup(Duration::from_secs(3600));
        let (tx, rx) = mpsc::channel(1);
        drop(tx);
        r.lp.updates = rx;
        let t0 = tokio::time::Instant::now();
        assert_eq!(r.go(no_keys()).await, Exit::Quit);
        assert!(t0.elapsed() < Duration::from_secs(1));
    }
}
