import { z } from 'zod';
import { defineTool } from '../src/registry/define.js';
import { centsField, filter, orderBy, page, productId } from './shared/params.js';

export const productTools = [
  defineTool({
    name: 'list_products',
    title: 'List products',
    description: 'Search products. Prices are in cents (1250 = $12.50).',
    resource: 'products',
    access: 'read',
    method: 'GET',
    path: '/v2/products',
    input: {
      filter: filter('name==shirt*', 'name, sku (* suffix ok), product_ids'),
      order_by: orderBy('name, sku'),
      ...page,
    },
    listKey: 'products',
  }),
  defineTool({
    name: 'get_product',
    title: 'Get a product',
    description: 'Get one product (price in cents).',
    resource: 'products',
    access: 'read',
    method: 'GET',
    path: '/v2/products/{product_id}',
    input: { product_id: productId() },
    findWith: 'list_products',
  }),
  defineTool({
    name: 'create_product',
    title: 'Create a product',
    description: 'Create a product.',
    resource: 'products',
    access: 'write',
    method: 'POST',
    path: '/v2/products',
    input: {
      name: z.string().min(1).describe('Product name'),
      price: centsField('Price'),
      short_description: z.string().describe('Short description'),
      sku: z.string().optional().describe('SKU'),
      active: z.boolean().optional().describe('Sellable'),
    },
    event: 'product.add',
    checkWith: 'get_product',
  }),
];
