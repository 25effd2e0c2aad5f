//! A file written past the page cache where the system allows it.
//!
//! On Linux the file is opened with `O_DIRECT`: bytes are gathered in a page-aligned
//! staging buffer and written in whole aligned chunks straight to the device, so a large
//! output does not pay for the kernel's copy into the page cache (which dominated
//! writing a 6.7 GB event log on a virtual machine). `flush` writes the whole pages still
//! staged, clears `O_DIRECT` and writes the unaligned tail through the page cache; later
//! writes go through the page cache too. Where direct I/O is refused (at open, or with
//! `EINVAL` at a write, as on filesystems without it) the file falls back to ordinary
//! writes: the bytes on disk are the same either way. Elsewhere than Linux it is an
//! ordinary file.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

#[cfg(target_os = "linux")]
use staged::{ALIGN, Stage};

pub struct DirectFile {
    file: File,
    /// Bytes waiting for a direct write; `None` once writes go through the page cache.
    #[cfg(target_os = "linux")]
    stage: Option<Stage>,
}

impl DirectFile {
    /// Creates (or truncates) `path`, for direct writes if the system allows them.
    pub fn create(path: &Path) -> io::Result<DirectFile> {
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Refused by some filesystems: then an ordinary file, whose error (if it
            // fails too) is the one worth reporting.
            if let Ok(file) = File::options()
                .write(true)
                .create(true)
                .truncate(true)
                .custom_flags(libc::O_DIRECT)
                .open(path)
            {
                return Ok(DirectFile {
                    file,
                    stage: Some(Stage::new()),
                });
            }
        }
        DirectFile::buffered(path)
    }

    /// Creates (or truncates) `path` for ordinary writes through the page cache.
    pub fn buffered(path: &Path) -> io::Result<DirectFile> {
        Ok(DirectFile {
            file: File::create(path)?,
            #[cfg(target_os = "linux")]
            stage: None,
        })
    }

    /// Whether writes still bypass the page cache.
    pub fn is_direct(&self) -> bool {
        #[cfg(target_os = "linux")]
        return self.stage.is_some();
        #[cfg(not(target_os = "linux"))]
        return false;
    }
}

#[cfg(target_os = "linux")]
impl DirectFile {
    /// Writes the whole pages staged with direct I/O; the partial last page stays staged.
    /// On `EINVAL` (direct I/O refused for this file or this alignment) everything staged
    /// goes through the page cache instead, and so does every later write.
    fn write_pages(&mut self) -> io::Result<()> {
        let Some(stage) = self.stage.as_mut() else {
            return Ok(());
        };
        let whole = stage.len / ALIGN * ALIGN;
        stage.fence();
        let mut done = 0;
        let written = loop {
            if done == whole {
                break Ok(());
            }
            match self.file.write(&stage.bytes()[done..whole]) {
                Ok(0) => break Err(io::Error::from(io::ErrorKind::WriteZero)),
                // A short write leaves the file offset unaligned: the next direct write
                // gets EINVAL, and the rest goes through the page cache.
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        stage.consume(done);
        match written {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => self.end_direct(),
            other => other,
        }
    }

    /// Clears `O_DIRECT` and writes whatever is staged through the page cache.
    fn end_direct(&mut self) -> io::Result<()> {
        if self.stage.is_none() {
            return Ok(());
        }
        set_direct(&self.file, false)?;
        let stage = self.stage.take().expect("staged bytes");
        self.file.write_all(&stage.bytes()[..stage.len])
    }
}

/// Sets or clears `O_DIRECT` on an open file.
#[cfg(target_os = "linux")]
fn set_direct(file: &File, on: bool) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is the descriptor `file` owns, open for the whole call (`file` is
    // borrowed); F_GETFL and F_SETFL only read and set its status flags and take no
    // pointer to our memory.
    let ok = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        let wanted = if on {
            flags | libc::O_DIRECT
        } else {
            flags & !libc::O_DIRECT
        };
        flags != -1 && libc::fcntl(fd, libc::F_SETFL, wanted) != -1
    };
    if ok {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl Write for DirectFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        #[cfg(target_os = "linux")]
        if self.stage.as_ref().is_some_and(Stage::is_full) {
            self.write_pages()?;
        }
        #[cfg(target_os = "linux")]
        if let Some(stage) = self.stage.as_mut() {
            return Ok(stage.push(buf));
        }
        self.file.write(buf)
    }

    /// Writes out everything staged; later writes go through the page cache.
    fn flush(&mut self) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            self.write_pages()?;
            self.end_direct()?;
        }
        self.file.flush()
    }
}

impl Drop for DirectFile {
    /// Like `BufWriter`, writes out what is staged, ignoring errors: call `flush` to see
    /// them.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = self.flush();
        }
    }
}

/// The page-aligned staging buffer.
#[cfg(target_os = "linux")]
mod staged {
    /// Direct I/O wants the buffer's address, the length and the file offset aligned to
    /// the device's logical block size: 4096 covers the usual 512 and 4096.
    pub const ALIGN: usize = 4096;
    /// Bytes gathered for one direct write: large writes keep the device busy.
    const STAGE: usize = 8 << 20;
    /// The stage is aligned to, and asks for, transparent huge pages: the kernel pins
    /// every page of a direct write's buffer, and four 2 MiB pages cost far less to pin
    /// than 2048 small ones (a full-scale log: about 0.4 s less system time).
    const HUGE_PAGE: usize = 2 << 20;

    /// `dst.copy_from_slice(src)` with non-temporal stores: the stage is read by the
    /// device, not the CPU, so its lines need not be read into the caches first (a plain
    /// copy reads every line it writes) nor evict the rows being formatted.
    fn copy_streaming(dst: &mut [u8], src: &[u8]) {
        assert_eq!(dst.len(), src.len());
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_stream_si128};
            let head = dst.as_ptr().align_offset(16).min(dst.len());
            let body = (dst.len() - head) / 16 * 16;
            dst[..head].copy_from_slice(&src[..head]);
            // SAFETY: SSE2 is part of every x86_64 target; the loop reads and writes
            // `body` bytes from `head`, inside both slices, and the stores go to
            // 16-byte aligned addresses.
            unsafe {
                let d = dst.as_mut_ptr().add(head).cast::<__m128i>();
                let s = src.as_ptr().add(head).cast::<__m128i>();
                for i in 0..body / 16 {
                    _mm_stream_si128(d.add(i), _mm_loadu_si128(s.add(i)));
                }
            }
            dst[head + body..].copy_from_slice(&src[head + body..]);
        }
        #[cfg(not(target_arch = "x86_64"))]
        dst.copy_from_slice(src);
    }

    pub struct Stage {
        /// `STAGE` bytes from `start`, which is `HUGE_PAGE`-aligned in memory (so also
        /// `ALIGN`-aligned): the vector is never resized, so its bytes never move.
        buf: Vec<u8>,
        start: usize,
        /// Bytes staged, from `start`.
        pub len: usize,
    }

    impl Stage {
        pub fn new() -> Stage {
            let buf = vec![0; STAGE + HUGE_PAGE];
            let addr = buf.as_ptr().addr();
            let start = addr.next_multiple_of(HUGE_PAGE) - addr;
            // SAFETY: advice on pages of `buf` only (STAGE bytes from `start`, inside it);
            // it changes how they are backed, never their contents.
            unsafe {
                libc::madvise(
                    buf.as_ptr().add(start).cast_mut().cast(),
                    STAGE,
                    libc::MADV_HUGEPAGE,
                );
            }
            Stage { start, buf, len: 0 }
        }

        /// The whole buffer, `ALIGN`-aligned.
        pub fn bytes(&self) -> &[u8] {
            &self.buf[self.start..self.start + STAGE]
        }

        fn bytes_mut(&mut self) -> &mut [u8] {
            &mut self.buf[self.start..self.start + STAGE]
        }

        pub fn is_full(&self) -> bool {
            self.len == STAGE
        }

        /// Copies as much of `buf` as fits; returns how much.
        pub fn push(&mut self, buf: &[u8]) -> usize {
            let start = self.len;
            let n = buf.len().min(STAGE - start);
            copy_streaming(&mut self.bytes_mut()[start..start + n], &buf[..n]);
            self.len += n;
            n
        }

        /// Orders the streaming stores before the kernel reads the stage.
        pub fn fence(&self) {
            // SAFETY: SSE2 is part of every x86_64 target.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                std::arch::x86_64::_mm_sfence();
            }
        }

        /// Drops the first `n` bytes, written out.
        pub fn consume(&mut self, n: usize) {
            let len = self.len;
            self.bytes_mut().copy_within(n..len, 0);
            self.len -= n;
        }
    }

    #[cfg(test)]
    mod tests {
        /// Every alignment of the destination and of the source, lengths around the
        /// 16-byte stores and a long one.
        #[test]
        fn streaming_copies_are_copies() {
            let src: Vec<u8> = (0..5000).map(|i| (i % 251) as u8).collect();
            for dst_at in 0..17 {
                for src_at in 0..17 {
                    for len in (0..40).chain([255, 4096 + 7]) {
                        let mut dst = vec![0xaa; dst_at + len + 16];
                        super::copy_streaming(
                            &mut dst[dst_at..dst_at + len],
                            &src[src_at..src_at + len],
                        );
                        assert!(dst[..dst_at].iter().all(|b| *b == 0xaa));
                        assert_eq!(dst[dst_at..dst_at + len], src[src_at..src_at + len]);
                        assert!(dst[dst_at + len..].iter().all(|b| *b == 0xaa));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes with a period (251) prime to the page size, so that a page written twice,
    /// dropped or shifted shows.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    /// Writes `bytes` in pieces of uneven sizes, as the log's buffers come.
    fn write_in_pieces(f: &mut DirectFile, bytes: &[u8]) {
        let sizes = [1, 4095, 100_003, 3 << 20, 4096, 1_234_567];
        let mut rest = bytes;
        for size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at((*size).min(rest.len()));
            f.write_all(piece).unwrap();
            rest = tail;
        }
    }

    #[test]
    fn direct_and_buffered_files_hold_exactly_the_bytes_written() {
        let dir = tempfile::tempdir().unwrap();
        let stage = 8 << 20;
        for len in [
            0,
            1,
            813,
            4095,
            4096,
            4097,
            3 * 4096 + 17,
            stage - 1,
            stage,
            stage + 3 * 4096 + 5,
            2 * stage + 1,
            20_000_017,
        ] {
            let bytes = pattern(len);
            for direct in [true, false] {
                let path = dir.path().join(format!("{len}-{direct}"));
                let mut f = if direct {
                    DirectFile::create(&path).unwrap()
                } else {
                    DirectFile::buffered(&path).unwrap()
                };
                if direct && cfg!(target_os = "linux") && !f.is_direct() {
                    // CI points TMPDIR at a real disk, so the direct path must run there.
                    assert!(
                        std::env::var_os("CI").is_none(),
                        "direct I/O refused in {}: CI must run this test on a disk that takes it",
                        dir.path().display()
                    );
                    eprintln!("note: direct I/O refused in {}", dir.path().display());
                }
                write_in_pieces(&mut f, &bytes);
                f.flush().unwrap();
                assert!(!f.is_direct(), "the tail goes through the page cache");
                // Written through the page cache after the flush.
                f.write_all(b"after").unwrap();
                drop(f);
                let on_disk = std::fs::read(&path).unwrap();
                assert_eq!(on_disk.len(), len + 5, "{len} bytes, direct: {direct}");
                assert!(
                    on_disk[..len] == bytes[..] && on_disk.ends_with(b"after"),
                    "{len} bytes, direct: {direct}: the file differs from what was written"
                );
            }
        }
    }

    #[test]
    fn dropping_writes_out_what_is_staged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dropped");
        let bytes = pattern(5 * 4096 + 99);
        let mut f = DirectFile::create(&path).unwrap();
        f.write_all(&bytes).unwrap();
        drop(f);
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    /// A direct write that gets EINVAL (here from an unaligned file offset, as after a
    /// short write; elsewhere from a filesystem without direct I/O) goes through the page
    /// cache instead, losing and repeating nothing.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_refused_direct_write_falls_back_to_the_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("refused");
        let mut f = DirectFile::create(&path).unwrap();
        let opened_direct = f.is_direct();
        set_direct(&f.file, false).unwrap();
        f.file.write_all(b"odd").unwrap();
        if opened_direct {
            set_direct(&f.file, true).unwrap();
        }
        let bytes = pattern((8 << 20) + 3 * 4096 + 11);
        write_in_pieces(&mut f, &bytes);
        if f.is_direct() || !opened_direct {
            assert!(
                std::env::var_os("CI").is_none(),
                "{}: the fallback from a refused direct write was not exercised",
                dir.path().display()
            );
            eprintln!(
                "note: {}: the fallback from a refused direct write was not exercised",
                dir.path().display()
            );
        }
        f.flush().unwrap();
        drop(f);
        let on_disk = std::fs::read(&path).unwrap();
        assert_eq!(on_disk.len(), bytes.len() + 3);
        assert!(on_disk.starts_with(b"odd") && on_disk[3..] == bytes[..]);
    }
}
