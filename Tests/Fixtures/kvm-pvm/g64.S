/* Guest code for kvmguest.c: 64-bit code copied to guest physical 0x1000.
   Each iteration writes one byte to port 0x3f8 (a PIO exit) and one
   dword to guest physical 0x100000, which no memory slot backs (an MMIO
   exit); RCX holds the iteration count; then HLT. */
	.section .rodata
	.globl guest_start, guest_end
	.code64
guest_start:
1:	mov $0x3f8, %dx
	mov $0x61, %al
	out %al, %dx
	movl $1, 0x100000
	dec %rcx
	jnz 1b
	hlt
guest_end:
	.section .note.GNU-stack,"",@progbits
