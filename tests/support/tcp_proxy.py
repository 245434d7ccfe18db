"""A real TCP proxy on 127.0.0.1 that can cut a connection when it sees given bytes.

Used to prove that a batch survives a lost connection: the driver must retry the whole
transaction, and the graph must end up as if nothing happened.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class CuttingProxy:
    def __init__(self, target_port: int, cut_on: bytes, cuts: int = 1) -> None:
        self.target_port = target_port
        self.cut_on = cut_on
        self.cuts_left = cuts
        self.cuts_done = 0
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _should_cut(self, data: bytes) -> bool:
        with self._lock:
            if self.cuts_left > 0 and self.cut_on in data:
                self.cuts_left -= 1
                self.cuts_done += 1
                return True
        return False

    def _pipe(self, src: socket.socket, dst: socket.socket, inspect: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if inspect and self._should_cut(data):
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def close(self) -> None:
        self._stop = True
        self._listener.close()
