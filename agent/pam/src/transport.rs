//! The real [`Daemon`]: a blocking Unix socket to the agent daemon speaking JSON lines, every read
//! and write bounded by what is left of the login's deadline.

use std::io::{self, BufRead, BufReader, ErrorKind};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use proto::login::{ModuleRequest, Step, MAX_LINE_BYTES};

use crate::logic::{decode_step, encode_request, Daemon, DaemonError};

pub struct UnixDaemon {
    path: PathBuf,
    /// The uid the daemon must run as: the module's own (root under sshd). A socket served by
    /// anyone else is never believed, and the login is refused.
    peer_uid: u32,
    stream: Option<BufReader<UnixStream>>,
}

impl UnixDaemon {
    pub fn new(path: impl Into<PathBuf>) -> UnixDaemon {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let peer_uid = unsafe { libc::geteuid() };
        UnixDaemon { path: path.into(), peer_uid, stream: None }
    }

    /// Expect the daemon to run as `uid` instead of the module's own uid.
    pub fn expecting_uid(mut self, uid: u32) -> UnixDaemon {
        self.peer_uid = uid;
        self
    }

    fn stream(&mut self) -> Result<&mut BufReader<UnixStream>, DaemonError> {
        self.stream.as_mut().ok_or(DaemonError::Closed)
    }
}

fn remaining(deadline: Instant) -> Result<Duration, DaemonError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(DaemonError::TimedOut)
    } else {
        Ok(left)
    }
}

fn io_error(e: io::Error) -> DaemonError {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => DaemonError::TimedOut,
        _ => DaemonError::Closed,
    }
}

fn peer_uid(stream: &UnixStream) -> io::Result<u32> {
    let mut cred = libc::ucred { pid: 0, uid: u32::MAX, gid: u32::MAX };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the fd is a live socket and `cred`/`len` describe a buffer of the right size.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(cred.uid)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// How often a connect to a daemon whose backlog is full is retried.
const CONNECT_RETRY: Duration = Duration::from_millis(20);

/// `UnixStream::connect`, but bounded by `deadline`: a blocking connect would wait forever on a
/// daemon that stopped accepting (its backlog full), so connect non-blocking and retry.
fn connect_within(path: &Path, deadline: Instant) -> Result<UnixStream, DaemonError> {
    let unreachable = |e: io::Error| DaemonError::Unreachable(format!("{}: {e}", path.display()));
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: sockaddr_un is plain old data; all zeroes is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return Err(unreachable(io::Error::new(ErrorKind::InvalidInput, "not a usable socket path")));
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (slot, byte) in addr.sun_path.iter_mut().zip(bytes) {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: socket(2) has no memory preconditions.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, 0) };
    if fd < 0 {
        return Err(unreachable(io::Error::last_os_error()));
    }
    // SAFETY: `fd` is a fresh socket nobody else owns; the stream closes it on every path.
    let stream = unsafe { UnixStream::from_raw_fd(fd) };
    loop {
        // SAFETY: `addr` is a valid sockaddr_un of the length given.
        let rc = unsafe {
            libc::connect(
                fd,
                (&addr as *const libc::sockaddr_un).cast(),
                std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            stream.set_nonblocking(false).map_err(unreachable)?;
            return Ok(stream);
        }
        match io::Error::last_os_error() {
            e if e.kind() == ErrorKind::Interrupted => {}
            e if e.kind() == ErrorKind::WouldBlock => {
                if remaining(deadline)? <= CONNECT_RETRY {
                    return Err(DaemonError::TimedOut);
                }
                std::thread::sleep(CONNECT_RETRY);
            }
            e => return Err(unreachable(e)),
        }
    }
}

impl Daemon for UnixDaemon {
    fn connect(&mut self, deadline: Instant) -> Result<(), DaemonError> {
        remaining(deadline)?;
        let stream = connect_within(&self.path, deadline)?;
        // Someone answering in the agent's place is not a missing agent: an impostor is refused,
        // and so is a peer whose uid cannot be read.
        let uid = peer_uid(&stream)
            .map_err(|e| DaemonError::Impostor(format!("cannot read the uid serving {}: {e}", self.path.display())))?;
        if uid != self.peer_uid {
            return Err(DaemonError::Impostor(format!(
                "{} is served by uid {uid}, not {}",
                self.path.display(),
                self.peer_uid
            )));
        }
        self.stream = Some(BufReader::new(stream));
        Ok(())
    }

    fn send(&mut self, request: &ModuleRequest, deadline: Instant) -> Result<(), DaemonError> {
        let line = encode_request(request)?;
        let socket = self.stream()?.get_ref();
        let mut rest = line.as_slice();
        while !rest.is_empty() {
            socket.set_write_timeout(Some(remaining(deadline)?)).map_err(io_error)?;
            // send(2) with MSG_NOSIGNAL, not write(2): a daemon that hung up must not SIGPIPE sshd.
            // SAFETY: `rest` is a live buffer of `rest.len()` bytes.
            let sent = unsafe { libc::send(socket.as_raw_fd(), rest.as_ptr().cast(), rest.len(), libc::MSG_NOSIGNAL) };
            match usize::try_from(sent) {
                Ok(0) => return Err(DaemonError::Closed),
                Ok(n) => rest = rest.get(n..).unwrap_or_default(),
                Err(_) => match io::Error::last_os_error() {
                    e if e.kind() == ErrorKind::Interrupted => {}
                    e => return Err(io_error(e)),
                },
            }
        }
        Ok(())
    }

    fn receive(&mut self, deadline: Instant) -> Result<Step, DaemonError> {
        let reader = self.stream()?;
        let mut line = Vec::new();
        // Part of a line is the daemon saying something: a close or timeout then is garbage (a
        // refusal), never the "nobody there" that the fail mode is for.
        let cut_off = |line: &[u8], e: DaemonError| {
            if line.is_empty() {
                e
            } else {
                DaemonError::Garbage(format!("{} bytes of a line, then: {e}", line.len()))
            }
        };
        loop {
            let left = remaining(deadline).map_err(|e| cut_off(&line, e))?;
            reader.get_ref().set_read_timeout(Some(left)).map_err(|e| cut_off(&line, io_error(e)))?;
            let buf = match reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(cut_off(&line, io_error(e))),
            };
            if buf.is_empty() {
                return Err(cut_off(&line, DaemonError::Closed));
            }
            let (taken, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(end) => (end, true),
                None => (buf.len(), false),
            };
            line.extend_from_slice(buf.get(..taken).unwrap_or_default());
            reader.consume(if done { taken + 1 } else { taken });
            if done || line.len() > MAX_LINE_BYTES {
                return decode_step(&line);
            }
        }
    }
}
