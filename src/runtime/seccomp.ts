import type { OciSeccomp, OciSeccompSyscall } from './oci-spec.js';

/**
 * berth's default seccomp profile: an allow-list with EPERM for everything else, in the spirit
 * of Docker's default (written for berth, grouped by purpose). Syscalls that need a
 * capability the default set lacks are allowed only when the container holds that capability
 * (`--cap-add`); privileged containers run unconfined, as with Docker. Names that libseccomp
 * does not know on this architecture are skipped by crun and runc.
 */

const EPERM = 1;
const ENOSYS = 38;

const FILES = [
  'read', 'write', 'readv', 'writev', 'pread64', 'pwrite64', 'preadv', 'pwritev', 'preadv2', 'pwritev2',
  'open', 'openat', 'openat2', 'close', 'close_range', 'creat', 'lseek', '_llseek', 'dup', 'dup2', 'dup3',
  'pipe', 'pipe2', 'fcntl', 'fcntl64', 'ioctl', 'flock', 'fsync', 'fdatasync', 'sync', 'syncfs',
  'sync_file_range', 'truncate', 'truncate64', 'ftruncate',
  'ftruncate64', 'fallocate', 'fadvise64', 'fadvise64_64', 'readahead', 'sendfile',
  'sendfile64', 'splice', 'tee', 'vmsplice', 'copy_file_range',
];

const METADATA = [
  'stat', 'stat64', 'lstat', 'lstat64', 'fstat', 'fstat64', 'newfstatat', 'fstatat64', 'statx', 'statfs',
  'statfs64', 'fstatfs', 'fstatfs64', 'access', 'faccessat', 'faccessat2', 'chmod', 'fchmod', 'fchmodat',
  'chown', 'chown32', 'fchown', 'fchown32', 'fchownat', 'lchown', 'lchown32', 'utime', 'utimes', 'utimensat',
  'utimensat_time64', 'futimesat', 'getdents', 'getdents64', 'readlink', 'readlinkat', 'rename', 'renameat',
  'renameat2', 'link', 'linkat', 'symlink', 'symlinkat', 'unlink', 'unlinkat', 'mkdir', 'mkdirat', 'rmdir',
  'mknod', 'mknodat', 'chdir', 'fchdir', 'getcwd', 'umask', 'getxattr', 'lgetxattr', 'fgetxattr', 'setxattr',
  'lsetxattr', 'fsetxattr', 'listxattr', 'llistxattr', 'flistxattr', 'removexattr', 'lremovexattr',
  'fremovexattr', 'inotify_init', 'inotify_init1', 'inotify_add_watch', 'inotify_rm_watch',
];

const MEMORY = [
  'brk', 'mmap', 'mmap2', 'munmap', 'mremap', 'mprotect', 'msync', 'mincore', 'madvise', 'mlock', 'mlock2',
  'munlock', 'mlockall', 'munlockall', 'membarrier', 'memfd_create', 'pkey_alloc', 'pkey_free',
  'pkey_mprotect', 'remap_file_pages',
];

const PROCESSES = [
  'fork', 'vfork', 'execve', 'execveat', 'exit', 'exit_group', 'wait4', 'waitid', 'waitpid', 'kill', 'tkill',
  'tgkill', 'getpid', 'getppid', 'gettid', 'getpgid', 'setpgid', 'getpgrp', 'getsid', 'setsid', 'getuid',
  'getuid32', 'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getegid', 'getegid32', 'setuid', 'setuid32',
  'setgid', 'setgid32', 'setreuid', 'setreuid32', 'setregid', 'setregid32', 'setresuid', 'setresuid32',
  'setresgid', 'setresgid32', 'getresuid', 'getresuid32', 'getresgid', 'getresgid32', 'setfsuid',
  'setfsuid32', 'setfsgid', 'setfsgid32', 'getgroups', 'getgroups32', 'setgroups', 'setgroups32', 'capget',
  'capset', 'prctl', 'set_tid_address', 'set_robust_list', 'get_robust_list', 'futex',
  'futex_time64', 'futex_waitv', 'rseq', 'sched_yield', 'sched_getaffinity', 'sched_setaffinity',
  'sched_getparam', 'sched_setparam', 'sched_getscheduler', 'sched_setscheduler', 'sched_get_priority_max',
  'sched_get_priority_min', 'sched_rr_get_interval', 'sched_rr_get_interval_time64', 'sched_getattr',
  'sched_setattr', 'getpriority', 'setpriority', 'getrlimit', 'ugetrlimit', 'setrlimit', 'prlimit64',
  'getrusage', 'times', 'uname', 'sysinfo', 'getrandom', 'restart_syscall', 'pidfd_open',
  'pidfd_send_signal', 'ioprio_get', 'ioprio_set', 'getcpu', 'set_thread_area', 'get_thread_area',
  'landlock_add_rule', 'landlock_create_ruleset',
  'landlock_restrict_self', 'seccomp',
  // debugging one's own children is harmless on kernels >= 4.8 (Docker allows ptrace too);
  // kcmp compares other processes' kernel objects and needs CAP_SYS_PTRACE, as in Docker.
  'ptrace', 'process_vm_readv', 'process_vm_writev',
];

const SIGNALS_AND_TIME = [
  'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'rt_sigpending', 'rt_sigsuspend', 'rt_sigtimedwait',
  'rt_sigtimedwait_time64', 'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'sigprocmask', 'sigreturn',
  'sigaltstack', 'signalfd', 'signalfd4', 'pause', 'alarm', 'time',
  'gettimeofday', 'clock_gettime', 'clock_gettime64', 'clock_getres', 'clock_getres_time64',
  'clock_nanosleep', 'clock_nanosleep_time64', 'nanosleep', 'getitimer', 'setitimer', 'timer_create',
  'timer_delete', 'timer_getoverrun', 'timer_gettime', 'timer_gettime64', 'timer_settime',
  'timer_settime64', 'timerfd_create', 'timerfd_gettime', 'timerfd_gettime64', 'timerfd_settime',
  'timerfd_settime64', 'adjtimex', 'clock_adjtime', 'clock_adjtime64',
];

const EVENTS = [
  'select', '_newselect', 'pselect6', 'pselect6_time64', 'poll', 'ppoll', 'ppoll_time64', 'epoll_create',
  'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_wait', 'epoll_wait_old', 'epoll_pwait',
  'epoll_pwait2', 'eventfd', 'eventfd2', 'io_setup', 'io_destroy', 'io_getevents', 'io_pgetevents',
  'io_pgetevents_time64', 'io_submit', 'io_cancel',
];

// socket(2) itself is allowed below with an address-family filter (no AF_VSOCK).
const NETWORK = [
  'socketpair', 'bind', 'listen', 'accept', 'accept4', 'connect', 'getsockname', 'getpeername',
  'getsockopt', 'setsockopt', 'send', 'sendto', 'sendmsg', 'sendmmsg', 'recv', 'recvfrom', 'recvmsg',
  'recvmmsg', 'recvmmsg_time64', 'shutdown', 'socketcall',
];

const IPC = [
  'shmget', 'shmat', 'shmdt', 'shmctl', 'semget', 'semop', 'semtimedop', 'semtimedop_time64', 'semctl',
  'msgget', 'msgsnd', 'msgrcv', 'msgctl', 'ipc', 'mq_open', 'mq_unlink', 'mq_timedsend',
  'mq_timedsend_time64', 'mq_timedreceive', 'mq_timedreceive_time64', 'mq_notify', 'mq_getsetattr',
];

/** Syscalls that exist on some architectures only (Node's process.arch names), as Docker's profile lists them. */
const BY_ARCH: Record<string, string[]> = {
  arm: ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'],
  arm64: ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'],
  ppc64: ['sync_file_range2'],
  x64: ['arch_prctl'],
  s390x: ['s390_pci_mmio_read', 's390_pci_mmio_write', 's390_runtime_instr'],
};

/** Syscalls allowed only to holders of a capability outside Docker's default set. */
const BY_CAPABILITY: Record<string, string[]> = {
  CAP_SYS_ADMIN: [
    'bpf', 'clone3', 'fanotify_init', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'lookup_dcookie', 'mount',
    'mount_setattr', 'move_mount', 'open_tree', 'perf_event_open', 'quotactl', 'quotactl_fd',
    'setdomainname', 'sethostname', 'setns', 'syslog', 'umount', 'umount2', 'unshare', 'pivot_root',
    'name_to_handle_at', 'fanotify_mark',
  ],
  CAP_SYS_BOOT: ['reboot'],
  CAP_SYS_CHROOT: ['chroot'],
  CAP_SYS_MODULE: ['delete_module', 'init_module', 'finit_module'],
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_PTRACE: ['kcmp', 'pidfd_getfd', 'process_madvise'],
  CAP_SYS_RAWIO: ['iopl', 'ioperm'],
  CAP_SYS_TIME: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'],
  CAP_SYS_TTY_CONFIG: ['vhangup'],
  CAP_SYS_NICE: ['get_mempolicy', 'mbind', 'set_mempolicy', 'migrate_pages', 'move_pages'],
  CAP_SYSLOG: ['syslog'],
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
  CAP_BPF: ['bpf'],
  CAP_PERFMON: ['perf_event_open'],
};

/** AF_VSOCK: sockets to the hypervisor and to other VMs' vsock services, which Docker's profile refuses. */
const AF_VSOCK = 40;

/** The clone flags that create namespaces (CLONE_NEWNS..CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME bits). */
const CLONE_NAMESPACE_FLAGS = 0x7e020080;

function architectures(arch: string): string[] {
  switch (arch) {
    case 'x64':
      return ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
    case 'ia32':
      return ['SCMP_ARCH_X86'];
    case 'arm64':
      return ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];
    case 'arm':
      return ['SCMP_ARCH_ARM'];
    case 'ppc64':
      return ['SCMP_ARCH_PPC64LE'];
    case 's390x':
      return ['SCMP_ARCH_S390X', 'SCMP_ARCH_S390'];
    case 'riscv64':
      return ['SCMP_ARCH_RISCV64'];
    default:
      return [];
  }
}

/** Builds the default profile for a container holding `capabilities` (full `CAP_*` names). */
export function defaultSeccompProfile(capabilities: readonly string[], arch: string = process.arch): OciSeccomp {
  const held = new Set(capabilities);
  const allowed = [...FILES, ...METADATA, ...MEMORY, ...PROCESSES, ...SIGNALS_AND_TIME, ...EVENTS, ...NETWORK, ...IPC, ...(BY_ARCH[arch] ?? [])];
  for (const [cap, names] of Object.entries(BY_CAPABILITY)) if (held.has(cap)) allowed.push(...names);
  const syscalls: OciSeccompSyscall[] = [{ names: [...new Set(allowed)].sort(), action: 'SCMP_ACT_ALLOW' }];

  // socket(2) for every address family but AF_VSOCK (a path out of the container to the host's
  // hypervisor services, outside every network namespace).
  syscalls.push({ names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] });

  // personality(2): only the harmless personas (Linux, 32-bit Linux, and "query").
  syscalls.push({
    names: ['personality'],
    action: 'SCMP_ACT_ALLOW',
    args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }],
  });
  for (const value of [0x0008, 0x20000, 0x20008, 0xffffffff]) {
    syscalls.push({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }] });
  }

  if (held.has('CAP_SYS_ADMIN')) {
    syscalls.push({ names: ['clone'], action: 'SCMP_ACT_ALLOW' });
  } else {
    // clone(2) without namespace flags; clone3 hides its flags in memory, so answer ENOSYS and
    // let libc fall back to clone(2). On s390 and s390x the kernel takes clone's arguments in
    // another order: the flags are argument 1 there (argument 0 is the new stack).
    const flagsArg = arch === 's390x' || arch === 's390' ? 1 : 0;
    syscalls.push({
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: flagsArg, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    });
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    architectures: architectures(arch),
    syscalls,
  };
}
