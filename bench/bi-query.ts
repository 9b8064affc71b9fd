/**
 * The BI query: a page of accounts from the CRM with their won deals, their PSA projects with what the ERP billed
 * for each, and their ERP invoices and receivables; so every request plans across all three system subgraphs.
 */
export const BI_QUERY = `query BiAccounts($first: Int!, $after: String) {
  accounts(first: $first, after: $after) {
    nodes {
      name
      opportunities(stage: CLOSED_WON) { amount { amount currency } }
      projects { code billedToDate { amount currency } }
      invoices { total { amount } balance { amount } }
      receivables { amount currency }
    }
  }
}`;
