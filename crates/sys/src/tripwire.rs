//! Tripwires that prove a path was never taken: a TCP listener that must accept
//! no connection, a file that must never be opened or read (inotify watches it),
//! and a FIFO that must never be opened (opening one for reading blocks until a
//! writer comes; a non-blocking open for writing fails with ENXIO while no reader
//! has it open, so a hung reader would be seen).

use std::ffi::CString;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub struct Tripwires {
    _dir: tempfile::TempDir,
    listener: TcpListener,
    pub file: PathBuf,
    pub fifo: PathBuf,
    inotify: i32,
}

impl Tripwires {
    pub fn set() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
        listener.set_nonblocking(true).expect("non-blocking");
        let file = dir.path().join("secret.txt");
        std::fs::write(&file, "a local file the ACS must never read\n").expect("file");
        let fifo = dir.path().join("fifo");
        let c_fifo = c_path(&fifo);
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_fifo.as_ptr(), 0o600) }, 0, "mkfifo");
        // SAFETY: plain syscalls on paths we own.
        let inotify = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        assert!(inotify >= 0, "inotify");
        for path in [&file, &fifo] {
            let c = c_path(path);
            // SAFETY: a live inotify descriptor and a valid NUL-terminated path.
            let watch = unsafe {
                libc::inotify_add_watch(inotify, c.as_ptr(), libc::IN_OPEN | libc::IN_ACCESS)
            };
            assert!(watch >= 0, "inotify watch");
        }
        Self {
            _dir: dir,
            listener,
            file,
            fifo,
            inotify,
        }
    }

    pub fn http_url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/x",
            self.listener.local_addr().expect("address").port()
        )
    }

    pub fn file_url(&self) -> String {
        format!("file://{}", self.file.display())
    }

    pub fn fifo_url(&self) -> String {
        format!("file://{}", self.fifo.display())
    }

    /// Panics if anything reached the listener, opened or read the file, or
    /// opened the FIFO.
    pub fn assert_untouched(&self) {
        match self.listener.accept() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Ok((_, from)) => panic!("the listener received a connection from {from}"),
            Err(e) => panic!("listener: {e}"),
        }
        let mut events = [0u8; 4096];
        // SAFETY: reading into a buffer we own, from our inotify descriptor.
        let read = unsafe { libc::read(self.inotify, events.as_mut_ptr().cast(), events.len()) };
        assert!(
            read < 0,
            "the file or the FIFO was opened or read ({read} bytes of inotify events)"
        );
        let c = c_path(&self.fifo);
        // SAFETY: a valid path; the descriptor is closed at once if it opens.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_WRONLY | libc::O_NONBLOCK) };
        if fd >= 0 {
            // SAFETY: the descriptor just opened, closed once.
            unsafe { libc::close(fd) };
            panic!("someone holds the FIFO open for reading");
        }
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::ENXIO),
            "no reader on the FIFO"
        );
    }
}

impl Drop for Tripwires {
    fn drop(&mut self) {
        // SAFETY: our own descriptor, closed once.
        unsafe { libc::close(self.inotify) };
    }
}

fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).expect("path without NUL")
}
