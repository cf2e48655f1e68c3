/* i8042.h: just enough of the PC keyboard controller for `reboot=k`: a write of 0xFE (pulse
 * reset) to port 0x64 ends the VM as a reboot. No keyboard is attached. */
#ifndef MINIVMM_I8042_H
#define MINIVMM_I8042_H
int i8042_init(void);
#endif
