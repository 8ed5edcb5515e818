//! The engine's log records into Python's `logging`: a tracing layer that hands each record at
//! or above the level of the factory's logger to that logger (`logger.log(level, message)`),
//! the fields after the message as `key=value`. Records below the level are dropped in Rust,
//! without taking the GIL.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, Once};

use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// The logger records go to, if any.
static LOGGER: Mutex<Option<Py<PyAny>>> = Mutex::new(None);
/// Python's level of that logger (10 debug … 50 critical); 255: none set.
static LEVEL: AtomicU8 = AtomicU8::new(u8::MAX);

fn python_level(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

struct ToPython;

#[derive(Default)]
struct Message {
    text: String,
    fields: String,
}

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.text, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.text.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for ToPython {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let level = python_level(event.metadata().level());
        if level < LEVEL.load(Ordering::Relaxed) {
            return;
        }
        let mut message = Message::default();
        event.record(&mut message);
        let text = format!("{}{}", message.text, message.fields);
        let target = event.metadata().target();
        // Not while the interpreter shuts down: the record is dropped.
        Python::try_attach(|py| {
            let logger = LOGGER
                .lock()
                .ok()
                .and_then(|l| l.as_ref().map(|l| l.clone_ref(py)));
            if let Some(logger) = logger {
                let _ = logger.call_method1(py, "log", (level, "%s: %s", target, text));
            }
        });
    }
}

/// Installs the layer once per process (unless the process has a subscriber of its own).
fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::registry().with(ToPython).try_init();
    });
}

/// Sends the engine's records at `level` (Python's numbers: 10 debug … 50 critical) and above
/// to `logger`, for the whole process (the level is read here, not per record: the records
/// below it never take the GIL).
#[pyfunction]
pub fn set_logger(logger: Py<PyAny>, level: i64) {
    install();
    if let Ok(mut l) = LOGGER.lock() {
        *l = Some(logger);
    }
    LEVEL.store(level.clamp(1, 255) as u8, Ordering::Relaxed);
}
