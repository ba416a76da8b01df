#ifndef IMAGESKIT_SYSTEM_SHIM_H
#define IMAGESKIT_SYSTEM_SHIM_H

/* glibc declares fallocate only under _GNU_SOURCE, which the Swift Glibc module is built without. */
extern int imageskit_fallocate(int descriptor, int mode, long long offset, long long length)
    __asm__("fallocate64");

/* sync_file_range is declared only under _GNU_SOURCE as well. */
extern int imageskit_sync_file_range(int descriptor, long long offset, long long length, unsigned int flags)
    __asm__("sync_file_range");

#define IMAGESKIT_SYNC_FILE_RANGE_WRITE 0x02

#define IMAGESKIT_FALLOC_FL_KEEP_SIZE 0x01
#define IMAGESKIT_FALLOC_FL_PUNCH_HOLE 0x02

#endif
