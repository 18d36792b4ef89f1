/* kvmguest: a minimal KVM guest used to record the kvm-pvm fixtures.
   Usage: kvmguest N. Two vCPUs (two threads) run the 64-bit loop in g64.S
   N times each: every iteration is one port write to 0x3f8 (KVM_EXIT_IO)
   and one write to unbacked guest physical 0x100000 (KVM_EXIT_MMIO), so a
   recording holds 2N kvm_pio, 2N kvm_mmio and 4N kvm_userspace_exit events
   plus one KVM_EXIT_HLT per vCPU. The guest starts in long mode with an
   identity-mapped 2 MiB page. On a host whose KVM is PVM (no VMX or SVM),
   the guest's instructions are emulated and no kvm_exit or kvm_entry is
   traced. Build: gcc -O2 -pthread -o kvmguest kvmguest.c g64.S */
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

extern const unsigned char guest_start[], guest_end[];
static int kvm, vm;
static long iterations;
static size_t run_size;

static void die(const char *what) { perror(what); exit(1); }

static void segment(struct kvm_segment *s, unsigned selector, unsigned type, int code) {
	memset(s, 0, sizeof *s);
	s->limit = 0xffffffff; s->selector = selector; s->type = type;
	s->present = 1; s->s = 1; s->g = 1; s->l = code; s->db = !code;
}

static void *vcpu_main(void *arg) {
	long id = (long)arg;
	int fd = ioctl(vm, KVM_CREATE_VCPU, id);
	if (fd < 0) die("KVM_CREATE_VCPU");
	struct kvm_run *run = mmap(0, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (run == MAP_FAILED) die("mmap kvm_run");
	struct kvm_sregs sregs;
	if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0) die("KVM_GET_SREGS");
	sregs.cr3 = 0x2000; sregs.cr4 = 1 << 5; /* PAE */
	sregs.cr0 = 0x80050033; /* PG WP NE ET MP PE */
	sregs.efer = 0x500; /* LMA LME */
	segment(&sregs.cs, 8, 11, 1);
	segment(&sregs.ds, 16, 3, 0);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	if (ioctl(fd, KVM_SET_SREGS, &sregs) < 0) die("KVM_SET_SREGS");
	struct kvm_regs regs = {.rip = 0x1000, .rflags = 2, .rcx = iterations, .rsp = 0x8000};
	if (ioctl(fd, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");
	long io = 0, mmio = 0;
	for (;;) {
		if (ioctl(fd, KVM_RUN, 0) < 0) die("KVM_RUN");
		if (run->exit_reason == KVM_EXIT_IO) io++;
		else if (run->exit_reason == KVM_EXIT_MMIO) mmio++;
		else if (run->exit_reason == KVM_EXIT_HLT) break;
		else { fprintf(stderr, "vcpu %ld: exit reason %u\n", id, run->exit_reason); exit(1); }
	}
	printf("vcpu %ld: %ld io, %ld mmio, hlt\n", id, io, mmio);
	return 0;
}

int main(int argc, char **argv) {
	iterations = argc > 1 ? atol(argv[1]) : 100;
	if ((kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0) die("/dev/kvm");
	if ((vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0) die("KVM_CREATE_VM");
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	uint8_t *mem = mmap(0, 0x100000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) die("mmap guest memory");
	memcpy(mem + 0x1000, guest_start, guest_end - guest_start);
	uint64_t *pml4 = (uint64_t *)(mem + 0x2000), *pdpt = (uint64_t *)(mem + 0x3000), *pd = (uint64_t *)(mem + 0x4000);
	pml4[0] = 0x3000 | 3; pdpt[0] = 0x4000 | 3; pd[0] = 0 | 0x83; /* present, writable, 2 MiB */
	struct kvm_userspace_memory_region region = {.slot = 0, .guest_phys_addr = 0, .memory_size = 0x100000, .userspace_addr = (uint64_t)mem};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");
	pthread_t t[2];
	for (long i = 0; i < 2; i++) pthread_create(&t[i], 0, vcpu_main, (void *)i);
	for (int i = 0; i < 2; i++) pthread_join(t[i], 0);
	return 0;
}
