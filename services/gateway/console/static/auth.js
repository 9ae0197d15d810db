// Tokens live in sessionStorage: this tab only, gone when it closes.

const CLIENT = 'switchyard.clientToken';
const ADMIN = 'switchyard.adminToken';

export const auth = {
  get client() { return sessionStorage.getItem(CLIENT) || ''; },
  get admin() { return sessionStorage.getItem(ADMIN) || ''; },
  get signedIn() { return this.client !== ''; },
  get isAdmin() { return this.admin !== ''; },
  save(client, admin) {
    sessionStorage.setItem(CLIENT, client);
    if (admin) sessionStorage.setItem(ADMIN, admin);
    else sessionStorage.removeItem(ADMIN);
  },
  // clear forgets the tokens and everything else the console kept in
  // this tab (filters).
  clear() {
    sessionStorage.clear();
  },
};
