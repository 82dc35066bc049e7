/* Registers of QEMU's "edu" teaching device (docs/specs/edu.rst in QEMU): BAR0, 1 MiB. */
#ifndef HIL_EDU_H
#define HIL_EDU_H

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8

enum {
  EDU_ID = 0x00,         /* 0xRRrr00ed: major, minor, 0xed */
  EDU_LIVENESS = 0x04,   /* reads back the inverse of what was written */
  EDU_IRQ_STATUS = 0x24, /* raised interrupt bits */
  EDU_IRQ_RAISE = 0x60,  /* write: OR into the status and raise the interrupt (MSI if enabled, else INTx) */
  EDU_IRQ_ACK = 0x64,    /* write: clear status bits; INTx drops when the status is 0 */
  EDU_DMA_SRC = 0x80,
  EDU_DMA_DST = 0x88,
  EDU_DMA_COUNT = 0x90,
  EDU_DMA_CMD = 0x98,
};
enum {
  EDU_DMA_START = 1,
  EDU_DMA_TO_RAM = 2, /* direction: 0 = RAM -> device buffer, 1 = device buffer -> RAM */
  EDU_DMA_IRQ = 4,    /* raise interrupt status bit 0x100 when done */
};
#define EDU_DMA_IRQ_BIT 0x100u
#define EDU_DMA_BUF 0x40000u /* the device's internal 4 KiB DMA buffer */
#define EDU_DMA_BUF_SIZE 4096u
/* QEMU 7.2's edu_check_range() rejects a transfer that ends at the buffer's last byte (an off-by-one)
 * with a "hardware error" that aborts QEMU, so transfers stay at half the buffer. */
#define EDU_DMA_XFER 2048u

#endif
