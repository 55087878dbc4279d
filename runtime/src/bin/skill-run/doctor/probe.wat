;; The canary probe `skill-run doctor` runs: a WASI preview-1 command the
;; runtime adapts to a component at load, exactly as it does a user's module.
;; It does what argv says, with no checks of its own, so whatever stops it is
;; the sandbox:
;;
;;   argv = [skill, OP, ARG...]
;;   read  FD PATH       open PATH under preopened folder FD (following
;;                       symlinks) and print its first 32 KiB
;;   write FD PATH KIB   create or truncate PATH under FD, write KIB KiB of 'x'
;;   env                 print every environment variable, one per line
;;   grow PAGES          grow linear memory by PAGES (64 KiB each), touch the last byte
;;   print KIB           write KIB KiB of 'x' to stdout
;;   spin                loop forever
;;
;; Success prints the result on stdout and returns from `_start` (exit 0); a
;; refused call prints "errno N" (or what failed) on stderr and exits 1.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))

  ;; Layout: 0 iovec {ptr, len}; 8 bytes done; 12 opened fd; 16 argc;
  ;; 20 argv bytes; 24 env count; 28 env bytes; 64 number text;
  ;; 512 messages; 1024 argv pointers (256); 2048 argv bytes (4 KiB);
  ;; 8192 env pointers (2048); 32768 data (32 KiB); 65536 env bytes (128 KiB).
  (memory (export "memory") 4)
  (data (i32.const 512) "errno ")
  (data (i32.const 520) "\n")
  (data (i32.const 528) "usage: read FD PATH | write FD PATH KIB | env | grow PAGES | print KIB | spin\n")
  (data (i32.const 640) "memory.grow refused\n")
  (data (i32.const 672) "arguments or environment too large\n")
  (data (i32.const 720) "grown\n")

  (func $write_all (param $fd i32) (param $ptr i32) (param $len i32) (result i32)
    (local $err i32) (local $n i32)
    (block $done
      (loop $more
        (br_if $done (i32.eqz (local.get $len)))
        (i32.store (i32.const 0) (local.get $ptr))
        (i32.store (i32.const 4) (local.get $len))
        (local.set $err (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
        (if (local.get $err) (then (return (local.get $err))))
        (local.set $n (i32.load (i32.const 8)))
        (if (i32.eqz (local.get $n)) (then (return (i32.const 29))))
        (local.set $ptr (i32.add (local.get $ptr) (local.get $n)))
        (local.set $len (i32.sub (local.get $len) (local.get $n)))
        (br $more)))
    (i32.const 0))

  (func $utoa (param $n i32) (param $at i32) (result i32)
    (local $len i32) (local $i i32) (local $tmp i32)
    (local.set $tmp (local.get $n))
    (local.set $len (i32.const 1))
    (block $counted
      (loop $count
        (br_if $counted (i32.lt_u (local.get $tmp) (i32.const 10)))
        (local.set $tmp (i32.div_u (local.get $tmp) (i32.const 10)))
        (local.set $len (i32.add (local.get $len) (i32.const 1)))
        (br $count)))
    (local.set $i (local.get $len))
    (local.set $tmp (local.get $n))
    (loop $digit
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (i32.add (local.get $at) (local.get $i))
        (i32.add (i32.const 48) (i32.rem_u (local.get $tmp) (i32.const 10))))
      (local.set $tmp (i32.div_u (local.get $tmp) (i32.const 10)))
      (br_if $digit (local.get $i)))
    (local.get $len))

  (func $fail (param $ptr i32) (param $len i32)
    (drop (call $write_all (i32.const 2) (local.get $ptr) (local.get $len)))
    (call $proc_exit (i32.const 1))
    (unreachable))

  (func $fail_errno (param $errno i32)
    (drop (call $write_all (i32.const 2) (i32.const 512) (i32.const 6)))
    (drop (call $write_all (i32.const 2) (i32.const 64) (call $utoa (local.get $errno) (i32.const 64))))
    (call $fail (i32.const 520) (i32.const 1)))

  (func $usage (call $fail (i32.const 528) (i32.const 78)))

  (func $out (param $ptr i32) (param $len i32)
    (local $err i32)
    (local.set $err (call $write_all (i32.const 1) (local.get $ptr) (local.get $len)))
    (if (local.get $err) (then (call $fail_errno (local.get $err)))))

  (func $strlen (param $p i32) (result i32)
    (local $n i32)
    (block $end
      (loop $next
        (br_if $end (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $n))

  (func $atoi (param $p i32) (result i32)
    (local $n i32) (local $digit i32)
    (block $end
      (loop $next
        (local.set $digit (i32.sub (i32.load8_u (local.get $p)) (i32.const 48)))
        (br_if $end (i32.gt_u (local.get $digit) (i32.const 9)))
        (local.set $n (i32.add (i32.mul (local.get $n) (i32.const 10)) (local.get $digit)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $n))

  (func $need (param $argc i32)
    (if (i32.lt_u (i32.load (i32.const 16)) (local.get $argc)) (then (call $usage))))

  (func $arg (param $i i32) (result i32)
    (i32.load (i32.add (i32.const 1024) (i32.mul (local.get $i) (i32.const 4)))))

  ;; Opens argv[3] under preopen argv[2]; the new fd is at 12.
  (func $open (param $oflags i32) (param $rights i64)
    (local $path i32) (local $err i32)
    (local.set $path (call $arg (i32.const 3)))
    (local.set $err
      (call $path_open (call $atoi (call $arg (i32.const 2))) (i32.const 1)
        (local.get $path) (call $strlen (local.get $path))
        (local.get $oflags) (local.get $rights) (i64.const 0) (i32.const 0) (i32.const 12)))
    (if (local.get $err) (then (call $fail_errno (local.get $err)))))

  (func $op_read
    (local $total i32) (local $n i32) (local $err i32)
    (call $need (i32.const 4))
    (call $open (i32.const 0) (i64.const 2))
    (block $eof
      (loop $more
        (br_if $eof (i32.ge_u (local.get $total) (i32.const 32768)))
        (i32.store (i32.const 0) (i32.add (i32.const 32768) (local.get $total)))
        (i32.store (i32.const 4) (i32.sub (i32.const 32768) (local.get $total)))
        (local.set $err (call $fd_read (i32.load (i32.const 12)) (i32.const 0) (i32.const 1) (i32.const 8)))
        (if (local.get $err) (then (call $fail_errno (local.get $err))))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $eof (i32.eqz (local.get $n)))
        (local.set $total (i32.add (local.get $total) (local.get $n)))
        (br $more)))
    (drop (call $fd_close (i32.load (i32.const 12))))
    (call $out (i32.const 32768) (local.get $total)))

  (func $op_write
    (local $kib i32) (local $err i32)
    (call $need (i32.const 5))
    (local.set $kib (call $atoi (call $arg (i32.const 4))))
    ;; O_CREAT | O_TRUNC, right fd_write
    (call $open (i32.const 9) (i64.const 64))
    (memory.fill (i32.const 32768) (i32.const 120) (i32.const 1024))
    (block $done
      (loop $more
        (br_if $done (i32.eqz (local.get $kib)))
        (local.set $err (call $write_all (i32.load (i32.const 12)) (i32.const 32768) (i32.const 1024)))
        (if (local.get $err) (then (call $fail_errno (local.get $err))))
        (local.set $kib (i32.sub (local.get $kib) (i32.const 1)))
        (br $more)))
    (drop (call $fd_close (i32.load (i32.const 12)))))

  (func $op_env
    (local $size i32) (local $i i32) (local $err i32)
    (local.set $err (call $environ_sizes_get (i32.const 24) (i32.const 28)))
    (if (local.get $err) (then (call $fail_errno (local.get $err))))
    (local.set $size (i32.load (i32.const 28)))
    (if (i32.or (i32.gt_u (i32.load (i32.const 24)) (i32.const 2048))
                (i32.gt_u (local.get $size) (i32.const 131072)))
      (then (call $fail (i32.const 672) (i32.const 35))))
    (local.set $err (call $environ_get (i32.const 8192) (i32.const 65536)))
    (if (local.get $err) (then (call $fail_errno (local.get $err))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $size)))
        (if (i32.eqz (i32.load8_u (i32.add (i32.const 65536) (local.get $i))))
          (then (i32.store8 (i32.add (i32.const 65536) (local.get $i)) (i32.const 10))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $out (i32.const 65536) (local.get $size)))

  (func $op_grow
    (local $pages i32) (local $old i32)
    (call $need (i32.const 3))
    (local.set $pages (call $atoi (call $arg (i32.const 2))))
    (local.set $old (memory.grow (local.get $pages)))
    (if (i32.eq (local.get $old) (i32.const -1)) (then (call $fail (i32.const 640) (i32.const 20))))
    (i32.store8
      (i32.sub (i32.mul (i32.add (local.get $old) (local.get $pages)) (i32.const 65536)) (i32.const 1))
      (i32.const 1))
    (call $out (i32.const 720) (i32.const 6)))

  (func $op_print
    (local $kib i32)
    (call $need (i32.const 3))
    (local.set $kib (call $atoi (call $arg (i32.const 2))))
    (memory.fill (i32.const 32768) (i32.const 120) (i32.const 1024))
    (block $done
      (loop $more
        (br_if $done (i32.eqz (local.get $kib)))
        (call $out (i32.const 32768) (i32.const 1024))
        (local.set $kib (i32.sub (local.get $kib) (i32.const 1)))
        (br $more))))

  (func $op_spin
    (loop $forever (br $forever)))

  (func (export "_start")
    (local $op i32) (local $err i32)
    (local.set $err (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (if (local.get $err) (then (call $fail_errno (local.get $err))))
    (if (i32.or (i32.gt_u (i32.load (i32.const 16)) (i32.const 256))
                (i32.gt_u (i32.load (i32.const 20)) (i32.const 4096)))
      (then (call $fail (i32.const 672) (i32.const 35))))
    (local.set $err (call $args_get (i32.const 1024) (i32.const 2048)))
    (if (local.get $err) (then (call $fail_errno (local.get $err))))
    (call $need (i32.const 2))
    (local.set $op (i32.load8_u (call $arg (i32.const 1))))
    (if (i32.eq (local.get $op) (i32.const 114)) (then (call $op_read) (return)))
    (if (i32.eq (local.get $op) (i32.const 119)) (then (call $op_write) (return)))
    (if (i32.eq (local.get $op) (i32.const 101)) (then (call $op_env) (return)))
    (if (i32.eq (local.get $op) (i32.const 103)) (then (call $op_grow) (return)))
    (if (i32.eq (local.get $op) (i32.const 112)) (then (call $op_print) (return)))
    (if (i32.eq (local.get $op) (i32.const 115)) (then (call $op_spin) (return)))
    (call $usage))
)
