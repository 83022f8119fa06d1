// Loopback ports for the test servers.
#pragma once

namespace ferry::test {

// A port on 127.0.0.1 the kernel considers free right now (a server binds it a moment later,
// so another process may take it meanwhile: fixtures retry or fail loudly).
int free_port();

// Whether something accepts TCP connections on 127.0.0.1:port.
bool port_accepts(int port);

}  // namespace ferry::test
