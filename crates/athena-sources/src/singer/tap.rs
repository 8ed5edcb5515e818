//! A tap as a child process: started in a process group of its own (so a Ctrl-C at the terminal
//! reaches athena-ingest, which decides how the tap ends), its stdout read by the source, its
//! stderr logged line by line under the source's id with the last lines kept for an error, and
//! ended when the sync stops: SIGTERM to its group, then SIGKILL after a grace.
//!
//! On Linux the tap also gets SIGKILL if the thread that started it dies (athena-ingest killed
//! with SIGKILL), so no orphaned tap keeps running.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use athena_core::kit::StopFlag;

/// How many of the tap's last stderr lines an error quotes.
const TAIL_LINES: usize = 20;
/// How long a tap that closed its stdout may take to exit before it is stopped.
const EXIT_AFTER_OUTPUT: Duration = Duration::from_secs(30);
/// How much of one stderr line is kept and logged.
const STDERR_LINE_BYTES: usize = 2000;

/// What starts a tap.
pub struct Launch<'a> {
    /// The source's id, for the log.
    pub source_id: &'a str,
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// Where it runs.
    pub dir: &'a Path,
    /// Variables added to its environment.
    pub env: &'a [(String, String)],
    /// How long a tap asked to stop may take before it is killed.
    pub grace: Duration,
}

/// A running tap.
pub struct Tap {
    child: Child,
    stdout: Option<ChildStdout>,
    stderr: Option<(JoinHandle<()>, mpsc::Receiver<()>)>,
    tail: Arc<Mutex<VecDeque<String>>>,
    watcher: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
    reaped: Option<ExitStatus>,
    grace: Duration,
    program: String,
}

impl Tap {
    /// Starts the tap; `stop` is checked by a watcher that ends it when the sync stops.
    pub fn spawn(launch: Launch<'_>, stop: Option<StopFlag>) -> Result<Tap, String> {
        let (program, args) = launch.argv.split_first().ok_or("`command` is empty")?;
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(launch.dir)
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        #[cfg(target_os = "linux")]
        {
            let parent = libc::pid_t::try_from(std::process::id()).unwrap_or(0);
            // SAFETY: prctl and getppid are async-signal-safe and touch only the child's own
            // settings.
            unsafe {
                command.pre_exec(move || {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // The parent died between the fork and the prctl: no signal would come.
                    if libc::getppid() != parent {
                        return Err(std::io::Error::other("athena-ingest is gone"));
                    }
                    Ok(())
                });
            }
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr = child.stderr.take().map(|stderr| {
            let tail = tail.clone();
            let source_id = launch.source_id.to_string();
            let (ended, ended_rx) = mpsc::channel();
            std::thread::Builder::new()
                .name(format!("singer-stderr-{source_id}"))
                .spawn(move || {
                    log_stderr(stderr, &source_id, &tail);
                    let _ = ended.send(());
                })
                .map(|thread| (thread, ended_rx))
        });
        let stderr = match stderr.transpose() {
            Ok(stderr) => stderr,
            Err(e) => {
                kill_group(child.id(), libc::SIGKILL);
                let _ = child.wait();
                return Err(format!("cannot start a thread for the tap's stderr: {e}"));
            }
        };
        let mut tap = Tap {
            stdout: child.stdout.take(),
            child,
            stderr,
            tail,
            watcher: None,
            reaped: None,
            grace: launch.grace,
            program: program.clone(),
        };
        if let Some(stop) = stop {
            let (tx, rx) = mpsc::channel();
            let pid = tap.child.id();
            let grace = tap.grace;
            let watcher = std::thread::Builder::new()
                .name(format!("singer-stop-{}", launch.source_id))
                .spawn(move || watch(pid, grace, &stop, &rx))
                .map_err(|e| format!("cannot start a thread to stop the tap: {e}"))?;
            tap.watcher = Some((tx, watcher));
        }
        Ok(tap)
    }

    /// The tap's stdout, once.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.stdout.take()
    }

    /// Ends what the tap left running in its group (something holding its stdout open after
    /// the tap exited), so that reading meets the end of its output.
    pub fn end_leftovers(&mut self) {
        if self.reaped.is_none() && state(self.child.id()) == Proc::Exited {
            kill_group(self.child.id(), libc::SIGKILL);
        }
    }

    /// Waits for the tap to exit after its stdout ended (ending it if it has not within
    /// [`EXIT_AFTER_OUTPUT`]), and for its stderr to be logged.
    pub fn wait(&mut self) -> Result<ExitStatus, String> {
        if let Some(status) = self.reaped {
            return Ok(status);
        }
        let pid = self.child.id();
        let deadline = Instant::now() + EXIT_AFTER_OUTPUT;
        while state(pid) == Proc::Running {
            if Instant::now() >= deadline {
                tracing::warn!(
                    "the tap {} closed its output but did not exit within {EXIT_AFTER_OUTPUT:?}: stopped",
                    self.program
                );
                terminate(pid, self.grace);
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.reap()
    }

    /// Ends the tap: SIGTERM to its group, SIGKILL after the grace.
    pub fn stop(&mut self) {
        if self.reaped.is_some() {
            return;
        }
        self.stdout = None;
        self.end_watcher();
        terminate(self.child.id(), self.grace);
        let _ = self.reap();
    }

    /// Reaps the tap once it has exited: first whatever is left of its group is killed (its
    /// exited leader still holds the group's id, so no other process can have it), then the
    /// exit status is taken and the stderr thread let finish.
    fn reap(&mut self) -> Result<ExitStatus, String> {
        if let Some(status) = self.reaped {
            return Ok(status);
        }
        self.end_watcher();
        let pid = self.child.id();
        wait_exited(pid);
        kill_group(pid, libc::SIGKILL);
        let status = self
            .child
            .wait()
            .map_err(|e| format!("cannot wait for {}: {e}", self.program))?;
        self.reaped = Some(status);
        if let Some((thread, ended)) = self.stderr.take() {
            // Something outside the group holding stderr must not hold the sync.
            if ended.recv_timeout(Duration::from_secs(2)).is_ok() {
                let _ = thread.join();
            }
        }
        Ok(status)
    }

    /// Stops the watcher; the tap is not reaped while it may still signal the group.
    fn end_watcher(&mut self) {
        if let Some((tx, watcher)) = self.watcher.take() {
            drop(tx);
            let _ = watcher.join();
        }
    }

    /// Why the tap failed: its exit and the last lines of its stderr.
    pub fn failure(&self, status: ExitStatus) -> String {
        let how = match (status.code(), status.signal()) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(signal)) => format!("was killed by signal {signal}"),
            (None, None) => "ended abnormally".to_string(),
        };
        let tail = self.stderr_tail();
        if tail.is_empty() {
            format!("the tap {} {how} (it wrote nothing on stderr)", self.program)
        } else {
            format!(
                "the tap {} {how}; the end of its stderr:\n{}",
                self.program,
                tail.join("\n")
            )
        }
    }

    /// The last lines the tap wrote on stderr.
    pub fn stderr_tail(&self) -> Vec<String> {
        self.tail
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Logs each stderr line at info (warn when it says it is a warning or an error), keeping the
/// last ones.
fn log_stderr(stderr: impl Read, source_id: &str, tail: &Mutex<VecDeque<String>>) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        // A line is read whole but kept cut: stderr is for people, the bound is for the log.
        match reader.by_ref().take(1 << 20).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            line.pop();
        }
        if line.is_empty() {
            continue;
        }
        let mut text = String::from_utf8_lossy(&line[..line.len().min(STDERR_LINE_BYTES)]).into_owned();
        if line.len() > STDERR_LINE_BYTES {
            text.push_str("...");
        }
        let upper = text.to_ascii_uppercase();
        if ["ERROR", "CRITICAL", "FATAL", "WARN", "TRACEBACK"].iter().any(|w| upper.contains(w)) {
            tracing::warn!(source = source_id, "tap: {text}");
        } else {
            tracing::info!(source = source_id, "tap: {text}");
        }
        if let Ok(mut tail) = tail.lock() {
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(text);
        }
    }
}

/// Ends the tap when the sync stops, until told the tap is done (the sender dropped).
fn watch(pid: u32, grace: Duration, stop: &StopFlag, done: &mpsc::Receiver<()>) {
    loop {
        match done.recv_timeout(Duration::from_millis(50)) {
            Err(mpsc::RecvTimeoutError::Timeout) if stop.is_stopped() => {
                terminate(pid, grace);
                return;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
    }
}

/// SIGTERM to the group of `pid`, then SIGKILL when `pid` has not exited within `grace`. The
/// process is not reaped here (its owner waits for it), so while it is there, its group is
/// still its own.
fn terminate(pid: u32, grace: Duration) {
    match state(pid) {
        Proc::Gone => return,
        Proc::Exited => {
            kill_group(pid, libc::SIGKILL);
            return;
        }
        Proc::Running => {}
    }
    kill_group(pid, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        match state(pid) {
            Proc::Gone => return,
            Proc::Exited => {
                // The tap is gone; what it started in its group goes with it.
                kill_group(pid, libc::SIGKILL);
                return;
            }
            Proc::Running => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    tracing::warn!(pid, "the tap did not stop within {grace:?} of SIGTERM: killed");
    kill_group(pid, libc::SIGKILL);
}

fn kill_group(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill has no memory effects; the group is the tap's own (process_group(0)).
        unsafe {
            libc::kill(-pid, signal);
        }
    }
}

/// Where a child is: running, exited but not reaped (its pid and group id still its own), or
/// reaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proc {
    Running,
    Exited,
    Gone,
}

/// The child's state, without reaping it.
fn state(pid: u32) -> Proc {
    // SAFETY: siginfo_t is plain data, zeroed is a valid value; waitid writes into it.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            pid,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        if r != 0 {
            Proc::Gone
        } else if info.si_pid() != 0 {
            Proc::Exited
        } else {
            Proc::Running
        }
    }
}

/// Blocks until the child has exited, without reaping it.
fn wait_exited(pid: u32) {
    loop {
        // SAFETY: as in `state`.
        let r = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT)
        };
        if r == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}
