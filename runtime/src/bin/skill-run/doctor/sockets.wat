;; A WASI 0.2 component that asks for a TCP socket, as language runtimes'
;; libc does: `wasi:sockets/tcp-create-socket.create-tcp-socket(ipv4)`.
;; Its typed command `probe` returns the error code's index (1 is
;; `access-denied`), or 1000 if a socket was created.
(component
  (import "wasi:sockets/network@0.2.0" (instance $network
    (type $ec (enum
      "unknown" "access-denied" "not-supported" "invalid-argument" "out-of-memory" "timeout"
      "concurrency-conflict" "not-in-progress" "would-block" "invalid-state" "new-socket-limit"
      "address-not-bindable" "address-in-use" "remote-unreachable" "connection-refused"
      "connection-reset" "connection-aborted" "datagram-too-large" "name-unresolvable"
      "temporary-resolver-failure" "permanent-resolver-failure"))
    (export "error-code" (type (eq $ec)))
    (type $af (enum "ipv4" "ipv6"))
    (export "ip-address-family" (type (eq $af)))))
  (alias export $network "error-code" (type $error-code))
  (alias export $network "ip-address-family" (type $family))
  (import "wasi:sockets/tcp@0.2.0" (instance $tcp
    (export "tcp-socket" (type (sub resource)))))
  (alias export $tcp "tcp-socket" (type $tcp-socket))
  (import "wasi:sockets/tcp-create-socket@0.2.0" (instance $create
    (alias outer 1 $error-code (type $ec))
    (export "error-code" (type $ec2 (eq $ec)))
    (alias outer 1 $family (type $f))
    (export "ip-address-family" (type $f2 (eq $f)))
    (alias outer 1 $tcp-socket (type $s))
    (export "tcp-socket" (type $s2 (eq $s)))
    (export "create-tcp-socket"
      (func (param "address-family" $f2) (result (result (own $s2) (error $ec2)))))))

  (core module $memory (memory (export "memory") 1))
  (core instance $memory (instantiate $memory))
  (alias core export $memory "memory" (core memory $mem))
  (alias export $create "create-tcp-socket" (func $create-tcp-socket))
  (core func $create-lowered (canon lower (func $create-tcp-socket) (memory $mem)))
  (core instance $host
    (export "memory" (memory $mem))
    (export "create-tcp-socket" (func $create-lowered)))
  (core module $probe
    (import "host" "memory" (memory 1))
    (import "host" "create-tcp-socket" (func $create (param i32 i32)))
    (func (export "probe") (result i32)
      ;; ipv4; the result<own<tcp-socket>, error-code> lands at 8: tag, then payload at 12
      (call $create (i32.const 0) (i32.const 8))
      (if (result i32) (i32.load8_u (i32.const 8))
        (then (i32.load8_u (i32.const 12)))
        (else (i32.const 1000)))))
  (core instance $probe (instantiate $probe (with "host" (instance $host))))
  (func $probe-lifted (result u32) (canon lift (core func $probe "probe")))
  (export "probe" (func $probe-lifted)))
