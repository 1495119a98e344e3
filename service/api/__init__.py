"""HTTP controllers; thin handlers over :class:`service.store.store.Store`."""
