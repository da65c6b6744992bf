/* bgclose.h - close() off the event loop, for fds whose last close is slow */
#ifndef VMNET_BGCLOSE_H
#define VMNET_BGCLOSE_H

/*
 * Start the closing thread. Until it runs (and if it cannot), bgclose()
 * closes in place. Start it after dropping privileges: capabilities are
 * per thread, and this one needs none.
 * Return: 0 or negative errno.
 */
int bgclose_start(void);
/* Close @fd soon, on the closing thread; never fails. Return: -EBADF. */
int bgclose(int fd);
/* Close what is queued and join the thread. */
void bgclose_stop(void);

#endif
