/* The edu driver's device interface (socket and CUSE): C11, shared by the driver and its clients.
 *
 *   read(N, offset)    DMA N bytes out of the device's buffer at offset (N + offset <= 2048)
 *   write(data, off)   DMA data into the device's buffer at offset
 *   ioctl LIVENESS     in: u32 value, out: u32 ~value (read back through the device)
 *   ioctl FACTORIAL    in: u32 n, out: u32 n! computed by the device (completed by its interrupt)
 *   ioctl RAISE        in: u32 status bits: raise an interrupt with them; completes when the ISR
 *                      has seen it
 * The codes are _IOWR/_IOW-encoded so the CUSE device carries their buffers too.
 * QEMU 7.2's edu aborts on a DMA ending at the last byte of its 4 KiB buffer (an off-by-one in
 * its range check): the driver exposes the first 2 KiB only.
 */
#ifndef WDFX_EDU_IOCTL_H
#define WDFX_EDU_IOCTL_H

#include <linux/ioctl.h>
#include <stdint.h>

#define WDFX_EDU_IOCTL_LIVENESS _IOWR('E', 1, uint32_t)
#define WDFX_EDU_IOCTL_FACTORIAL _IOWR('E', 2, uint32_t)
#define WDFX_EDU_IOCTL_RAISE _IOW('E', 3, uint32_t)
#define WDFX_EDU_BUFFER_SIZE 2048u

#endif
