/* powerbtn.c: the test guest's ACPI power button handler: waits for KEY_POWER on any input
 * device (the ACPI button driver's "Power Button" reports it through evdev), says so on the
 * console, syncs and powers the guest off (ACPI S5), as a distro's acpid/logind would. The
 * initramfs has no disk to unmount, so that is the whole clean shutdown. Exits 1 if there is no
 * input device. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

#define MAX_DEV 16

int main(void)
{
	struct pollfd p[MAX_DEV];
	int n = 0;
	DIR *d = opendir("/dev/input");
	for (struct dirent *e; d && (e = readdir(d)) && n < MAX_DEV;) {
		char path[300];
		if (strncmp(e->d_name, "event", 5))
			continue;
		snprintf(path, sizeof(path), "/dev/input/%s", e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			p[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
	}
	if (d)
		closedir(d);
	if (!n) {
		fprintf(stderr, "powerbtn: no input device\n");
		return 1;
	}
	for (;;) {
		if (poll(p, n, -1) < 0)
			continue;
		for (int i = 0; i < n; i++) {
			struct input_event ev;
			if (!(p[i].revents & POLLIN) || read(p[i].fd, &ev, sizeof(ev)) != sizeof(ev))
				continue;
			if (ev.type == EV_KEY && ev.code == KEY_POWER && ev.value == 1) {
				printf("MINIVMM-GUEST-POWERBUTTON shutting down\n");
				fflush(stdout);
				sync();
				reboot(RB_POWER_OFF);
				return 1;
			}
		}
	}
}
