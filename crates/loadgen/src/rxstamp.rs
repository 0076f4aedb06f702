//! Reads stamped with the kernel's receive time: when the bytes reached this host, not when the
//! reader got round to them.
//!
//! A client that timestamps a chunk when its `read` returns charges its own scheduling delay to
//! the server: at concurrency 256 a burst of first tokens waits behind the other streams' events,
//! and the last one read looks a millisecond slower than it was. On Linux, `SO_TIMESTAMPNS` makes
//! the kernel stamp every received packet as it enters the network stack, and `recvmsg` returns
//! the stamp of the last packet it read; [`StampedReader::read`] converts it to an [`Instant`].
//!
//! Limits, all falling back to "when the read returned", which is never earlier than the truth:
//! several events read at once all get the stamp of the latest packet (the kernel merges queued
//! packets and keeps the newest stamp); a stamp from the future or older than a minute (the wall
//! clock stepped) is ignored; other platforms have no stamps. The realtime-to-monotonic
//! conversion uses the clocks' difference at the moment of the read, so NTP slewing over the run
//! does not accumulate.

use std::io;
use std::time::Instant;

use tokio::net::TcpStream;

/// Stamps older than this are distrusted (the wall clock was stepped).
#[cfg(target_os = "linux")]
const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// Asks the kernel to stamp packets received on `stream`; false where that is not supported
/// (reads then carry the time they returned).
pub fn enable(stream: &TcpStream) -> bool {
    #[cfg(target_os = "linux")]
    {
        nix::sys::socket::setsockopt(stream, nix::sys::socket::sockopt::ReceiveTimestampns, &true)
            .is_ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = stream;
        false
    }
}

/// Reads from a socket with [`enable`]d stamps; keeps the control-message buffer between reads.
#[derive(Debug)]
pub struct StampedReader {
    #[cfg(target_os = "linux")]
    cmsg: Vec<u8>,
}

impl Default for StampedReader {
    fn default() -> Self {
        Self::new()
    }
}

impl StampedReader {
    /// A reader with its control-message buffer allocated.
    pub fn new() -> Self {
        Self {
            #[cfg(target_os = "linux")]
            cmsg: nix::cmsg_space!(nix::sys::time::TimeSpec),
        }
    }

    /// Reads what is available into `buf` (waiting until something is); returns how many bytes
    /// (0 at end of file) and when the newest of them arrived.
    pub async fn read(
        &mut self,
        stream: &TcpStream,
        buf: &mut [u8],
    ) -> io::Result<(usize, Instant)> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            use tokio::io::Interest;
            let fd = stream.as_raw_fd();
            let len = buf.len();
            loop {
                stream.readable().await?;
                let mut got = None;
                let res = stream.try_io(Interest::READABLE, || {
                    let (n, stamp) = recv_stamped(fd, buf, &mut self.cmsg)?;
                    got = Some((n, stamp));
                    // A read that did not fill the buffer drained the socket: report "would
                    // block" so tokio clears the readiness now, as its own `read` does, instead
                    // of the next read finding out with one more system call.
                    if n > 0 && n < len {
                        Err(io::ErrorKind::WouldBlock.into())
                    } else {
                        Ok(())
                    }
                });
                match (got, res) {
                    (Some((n, stamp)), _) => return Ok((n, arrival(stamp))),
                    (None, Err(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                    (None, Err(e)) => return Err(e),
                    (None, Ok(())) => {}
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            use tokio::io::AsyncReadExt as _;
            let _ = self;
            let mut s = stream;
            let n = s.read(buf).await?;
            Ok((n, Instant::now()))
        }
    }
}

/// One `recvmsg`: bytes read and the packet stamp, if the kernel attached one.
#[cfg(target_os = "linux")]
fn recv_stamped(
    fd: std::os::fd::RawFd,
    buf: &mut [u8],
    cmsg: &mut [u8],
) -> io::Result<(usize, Option<nix::sys::time::TimeSpec>)> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut iov = [io::IoSliceMut::new(buf)];
    let msg =
        recvmsg::<()>(fd, &mut iov, Some(cmsg), MsgFlags::empty()).map_err(io::Error::from)?;
    let stamp = msg.cmsgs().ok().and_then(|mut it| {
        it.find_map(|c| match c {
            ControlMessageOwned::ScmTimestampns(ts) => Some(ts),
            _ => None,
        })
    });
    Ok((msg.bytes, stamp))
}

/// Converts a realtime packet stamp to the monotonic clock, or "now" when it cannot be trusted.
#[cfg(target_os = "linux")]
fn arrival(stamp: Option<nix::sys::time::TimeSpec>) -> Instant {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    let now = Instant::now();
    let Some(ts) = stamp else { return now };
    let (Ok(sec), Ok(nsec)) = (u64::try_from(ts.tv_sec()), u32::try_from(ts.tv_nsec())) else {
        return now;
    };
    if nsec >= 1_000_000_000 {
        return now;
    }
    let at = UNIX_EPOCH + Duration::new(sec, nsec);
    match SystemTime::now().duration_since(at) {
        Ok(age) if age <= MAX_AGE => now.checked_sub(age).unwrap_or(now),
        _ => now,
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    /// Bytes that sat in the socket while the reader was busy are stamped with their arrival,
    /// not with the late read.
    #[tokio::test]
    async fn stamps_arrival_not_read_time() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        assert!(enable(&client));
        let written = Instant::now();
        server.write_all(b"hello").await.unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let mut r = StampedReader::new();
        let mut buf = [0u8; 64];
        let (n, at) = r.read(&client, &mut buf).await.unwrap();
        let read_at = Instant::now();
        assert_eq!(n, 5);
        assert!(at >= written, "stamp before the write");
        assert!(
            read_at - at >= Duration::from_millis(45),
            "stamp {:?} after arrival: it is the read time",
            at - written
        );
        drop(server);
        let (n, _) = r.read(&client, &mut buf).await.unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn untrustworthy_stamps_fall_back_to_now() {
        use nix::sys::time::TimeSpec;
        let before = Instant::now();
        assert!(arrival(None) >= before);
        assert!(
            arrival(Some(TimeSpec::new(0, 0))) >= before,
            "older than a minute"
        );
        assert!(
            arrival(Some(TimeSpec::new(i64::MAX / 4, 0))) >= before,
            "from the future"
        );
        assert!(arrival(Some(TimeSpec::new(-1, 0))) >= before);
    }
}
